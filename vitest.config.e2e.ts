import { createLogger } from 'vite';
import { defineConfig } from 'vitest/config';

// The inlined @actions/* packages ship source maps without sources; Vite warns once per file.
const logger = createLogger();
const warnOnce = logger.warnOnce.bind(logger);
logger.warnOnce = (msg, options) => {
  if (!msg.includes('points to missing source files')) warnOnce(msg, options);
};

// Lab end-to-end tests: real droplets (containers with sshd + Docker), the DigitalOcean API
// fake held to the OpenAPI spec, real S3, real PostgreSQL. One lab per run (globalSetup),
// fresh droplets per test file.
export default defineConfig({
  customLogger: logger,
  test: {
    // GitHub's workflow parser imports its JSON schema without an import attribute, which Node's
    // ESM loader refuses: let Vite transform those packages (used by test/workflow-runner/).
    server: { deps: { inline: [/@actions\/(workflow-parser|languageservice|expressions)/] } },
    include: ['test/**/*.e2e.test.ts'],
    globalSetup: ['test/lab/global-setup.ts'],
    testTimeout: 300_000,
    hookTimeout: 600_000,
    fileParallelism: false,
    maxWorkers: 1,
  },
});
