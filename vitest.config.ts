import { defineConfig } from 'vitest/config';

// Unit tests: fast, no network, no Docker. Everything named *.e2e.test.ts is excluded.
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/unit/**/*.test.ts', 'test/dist/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/*.e2e.test.ts'],
    testTimeout: 20_000,
  },
});
