// The end-to-end suite against a real Kubernetes control plane: the control plane's own smoke
// check and the operator's *.e2e.test.ts. Not part of `npm test`; run `npm run test:e2e`.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    root: fileURLToPath(new URL('..', import.meta.url)),
    include: ['e2e/**/*.test.ts', 'operator/**/*.e2e.test.ts'],
    testTimeout: 180_000,
    // beforeAll may run setup.sh, which builds the control plane on a cold cache (10-25 min).
    hookTimeout: 45 * 60_000,
    // One control plane at a time: two cores.
    fileParallelism: false,
    maxWorkers: 1,
    pool: 'forks',
  },
});
