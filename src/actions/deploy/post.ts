import '../../lib/action/esm-globals.js';
import { coreIo } from '../../lib/action/core.js';
import { runAction } from '../../lib/action/run-action.js';
import { sshSettings } from '../../lib/ssh/inputs.js';
import { SshPool } from '../../lib/ssh/pool.js';
import { postRun } from '../deploy-compose/post-run.js';

// The same lock state as deploy-compose (STATE_LOCKS): released even after a cancel.
const io = coreIo();
await runAction('deploy (post)', () =>
  postRun(io, (ssh) => new SshPool(sshSettings({ ...ssh, connectAttempts: 2 }, io.logger))),
);
