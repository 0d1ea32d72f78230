import type { InputGetter } from '../../lib/action/inputs.js';
import { InputReader } from '../../lib/action/inputs.js';

export interface Inputs {
  app: string;
  timeoutMs: number;
}

export function readInputs(io: { getInput: InputGetter }): Inputs {
  const r = new InputReader((name) => io.getInput(name));
  return {
    app: r.required('app'),
    timeoutMs: r.duration('timeout', '10m'),
  };
}
