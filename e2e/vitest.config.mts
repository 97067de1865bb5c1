// The end-to-end suite against a real Kubernetes control plane: the control plane's own smoke
// check, the scenarios and the operator's *.e2e.test.ts. Not part of `npm test`; run
// `npm run test:e2e`. With RUNNEL_E2E_KUBECONFIG set (e2e/kind.sh), only the scenarios run, against
// that cluster: the other files start control planes of their own.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const existingCluster = !!process.env.RUNNEL_E2E_KUBECONFIG;

export default defineConfig({
  test: {
    root: fileURLToPath(new URL('..', import.meta.url)),
    // What this machine lacks (root, iptables, Go for a cold build, ...) is said before anything starts.
    globalSetup: ['e2e/control-plane/preflight-setup.ts'],
    include: existingCluster ? ['e2e/scenarios/**/*.test.ts'] : ['e2e/**/*.test.ts', 'operator/**/*.e2e.test.ts'],
    testTimeout: 180_000,
    // beforeAll may run setup.sh, which builds the control plane on a cold cache (10-25 min).
    hookTimeout: 45 * 60_000,
    // One control plane at a time: two cores. (On a shared cluster, one scenario file at a time.)
    fileParallelism: false,
    maxWorkers: 1,
    pool: 'forks',
  },
});
