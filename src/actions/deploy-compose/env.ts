// The release's .env: the env-file input, then `env` and `secrets` (one quoted line each).

import { envLine } from '../../lib/release/model.js';
import type { Inputs } from './inputs.js';
import type { Deps } from './types.js';

export function buildEnv(inputs: Inputs, deps: Pick<Deps, 'readEnvFile'>): string {
  const parts: string[] = [];
  if (inputs.envFile) {
    const text = deps.readEnvFile(inputs.envFile);
    parts.push(text.endsWith('\n') || text === '' ? text : `${text}\n`);
  }
  const entries = new Map<string, string>([...inputs.env, ...inputs.secrets]);
  for (const [k, v] of entries) parts.push(`${envLine(k, v)}\n`);
  return parts.join('');
}
