import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    // e2e files share one user's store; run files one after another, tests inside them in order.
    fileParallelism: false,
    sequence: { concurrent: false },
    reporters: ['default', './test/summary-reporter.ts'],
  },
});
