// The operator's tests against a real Kubernetes control plane (and, for topics, a real broker):
// not part of `npm test`. Run `npm run build && npx vitest run --config operator/test/vitest.e2e.config.mts`.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    root: fileURLToPath(new URL('../..', import.meta.url)),
    include: ['operator/**/*.e2e.test.ts'],
    testTimeout: 180_000,
    // beforeAll may build the control plane on a cold cache (10-25 min).
    hookTimeout: 45 * 60_000,
    fileParallelism: false,
    maxWorkers: 1,
    pool: 'forks',
  },
});
