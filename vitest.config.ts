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

// Unit tests: fast, no network, no Docker. Everything named *.e2e.test.ts is excluded.
export default defineConfig({
  plugins: [quietSourcemaps],
  test: {
    // GitHub's workflow parser imports its JSON schema without an import attribute, which Node's
    // ESM loader refuses: let Vite transform those packages (used by test/workflow-runner/).
    server: { deps: { inline: [/@actions\/(workflow-parser|languageservice|expressions)/] } },
    include: ['src/**/*.test.ts', 'test/unit/**/*.test.ts', 'test/dist/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/*.e2e.test.ts'],
    testTimeout: 20_000,
  },
});
