import type { Plugin } from 'vite';
import { defineConfig } from 'vitest/config';

// The inlined @actions/* packages ship source maps without sources; Vite warns once per file.
// (Vitest replaces config.customLogger, so this filters the resolved logger instead.)
const quietSourcemaps: Plugin = {
  name: 'quiet-missing-sourcemap-sources',
  configResolved(config) {
    const warnOnce = config.logger.warnOnce.bind(config.logger);
    config.logger.warnOnce = (msg, options) => {
      if (!msg.includes('points to missing source files')) warnOnce(msg, options);
    };
  },
};

// Lab end-to-end tests: real droplets (containers with sshd + Docker), the DigitalOcean API
// fake held to the OpenAPI spec, real S3, real PostgreSQL. One lab per run (globalSetup),
// fresh droplets per test file. Each run has one scratch folder (private bundles, runner files),
// removed when the run ends (test/support/run-scratch.ts).
export default defineConfig({
  plugins: [quietSourcemaps],
  test: {
    // GitHub's workflow parser imports its JSON schema without an import attribute, which Node's
    // ESM loader refuses: let Vite transform those packages (used by test/workflow-runner/).
    server: { deps: { inline: [/@actions\/(workflow-parser|languageservice|expressions)/] } },
    include: ['test/**/*.e2e.test.ts'],
    globalSetup: ['test/lab/global-setup.ts', 'test/support/run-scratch-setup.ts'],
    testTimeout: 300_000,
    hookTimeout: 600_000,
    fileParallelism: false,
    maxWorkers: 1,
  },
});
