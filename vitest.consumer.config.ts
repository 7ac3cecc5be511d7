import { defineConfig } from 'vitest/config';

// The consumer test (test/consumer/): packs the packages and uses them from outside the workspace.
export default defineConfig({
  test: {
    include: ['test/consumer/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 600_000,
  },
});
