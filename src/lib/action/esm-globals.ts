// Imported FIRST by every action entry. The bundle is ESM, but ssh2 (node-ssh's engine)
// reads __dirname/__filename at load time; without these it throws
// "ReferenceError: __dirname is not defined" (see shared/build-facts.md).
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const g = globalThis as { __filename?: string; __dirname?: string };
g.__filename ??= fileURLToPath(import.meta.url);
g.__dirname ??= dirname(g.__filename);
