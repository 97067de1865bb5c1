// vitest globalSetup of the e2e suite: runs preflight.sh before any test file starts a control
// plane, so a machine without iptables, root or Go fails at once with what to install, also when
// vitest is run directly (`npx vitest run --config e2e/vitest.config.mts`) or with RUNNEL_K8S_BIN.

import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'preflight.sh');
  const r = spawnSync('bash', [script], { encoding: 'utf8', stdio: ['ignore', 'inherit', 'pipe'] });
  if (r.status !== 0)
    throw new Error(r.stderr.trim() || `${script} failed (${r.error?.message ?? `exit ${r.status}`})`);
}
