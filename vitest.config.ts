import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['broker/**/*.test.ts', 'operator/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Client tests start brokers as separate processes; two cores do not gain from more.
    maxWorkers: 2,
  },
});
