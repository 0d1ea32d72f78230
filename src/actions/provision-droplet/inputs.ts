import type { InputGetter } from '../../lib/action/inputs.js';
import { InputReader } from '../../lib/action/inputs.js';

export interface Inputs {
  token: string;
  timeoutMs: number;
}

export function readInputs(io: { getInput: InputGetter }): Inputs {
  const r = new InputReader((name) => io.getInput(name));
  return {
    token: r.required('token'),
    timeoutMs: r.duration('timeout', '10m'),
  };
}
