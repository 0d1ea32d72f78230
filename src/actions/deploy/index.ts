import '../../lib/action/esm-globals.js';
import { coreIo } from '../../lib/action/core.js';
import { runAction } from '../../lib/action/run-action.js';
import { realDeps } from './deps.js';
import { readInputs } from './inputs.js';
import { run } from './run.js';

const io = coreIo();
await runAction('deploy', async () => {
  const inputs = readInputs(io);
  await run(inputs, realDeps(io, inputs));
});
