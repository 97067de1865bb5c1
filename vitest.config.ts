import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['broker/**/*.test.ts', 'operator/**/*.test.ts'],
    // Tests against a real Kubernetes control plane run in the e2e suite (npm run test:e2e).
    exclude: [...configDefaults.exclude, '**/*.e2e.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Client tests start brokers as separate processes; two cores do not gain from more.
    maxWorkers: 2,
  },
});
