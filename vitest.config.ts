import { createLogger } from 'vite';
import { defineConfig } from 'vitest/config';

// The inlined @actions/* packages ship source maps without sources; Vite warns once per file.
const logger = createLogger();
const warnOnce = logger.warnOnce.bind(logger);
logger.warnOnce = (msg, options) => {
  if (!msg.includes('points to missing source files')) warnOnce(msg, options);
};

// Unit tests: fast, no network, no Docker. Everything named *.e2e.test.ts is excluded.
export default defineConfig({
  customLogger: logger,
  test: {
    // GitHub's workflow parser imports its JSON schema without an import attribute, which Node's
    // ESM loader refuses: let Vite transform those packages (used by test/workflow-runner/).
    server: { deps: { inline: [/@actions\/(workflow-parser|languageservice|expressions)/] } },
    include: ['src/**/*.test.ts', 'test/unit/**/*.test.ts', 'test/dist/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/*.e2e.test.ts'],
    testTimeout: 20_000,
  },
});
