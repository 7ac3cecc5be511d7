import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    exclude: ['test/consumer/**', '**/node_modules/**'],
    testTimeout: 60_000,
    setupFiles: ['test/setup.ts'],
  },
});
