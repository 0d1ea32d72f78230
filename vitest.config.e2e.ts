import { defineConfig } from 'vitest/config';

// Lab end-to-end tests: real droplets (containers with sshd + Docker), the DigitalOcean API
// fake held to the OpenAPI spec, real S3, real PostgreSQL. One lab per run (globalSetup),
// fresh droplets per test file.
export default defineConfig({
  test: {
    include: ['test/**/*.e2e.test.ts'],
    globalSetup: ['test/lab/global-setup.ts'],
    testTimeout: 300_000,
    hookTimeout: 600_000,
    fileParallelism: false,
    maxWorkers: 1,
  },
});
