// Where the e2e control plane lives: the repository root, the pinned versions (versions.env), the
// cached binaries (built by setup.sh) and the run dirs that hold each run's PKI, kubeconfigs and logs.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { processesUnder, tail } from './processes.js';

/** The repository root: the nearest ancestor of this module that holds e2e/control-plane/versions.env. */
export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (fs.existsSync(path.join(dir, 'e2e', 'control-plane', 'versions.env'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('cannot find e2e/control-plane/versions.env above ' + import.meta.url);
    dir = parent;
  }
}

export interface Versions {
  K8S_VERSION: string;
  ETCD_VERSION: string;
  HELM_VERSION: string;
}

/** versions.env, overridden by the environment (as setup.sh does). */
export function versions(): Versions {
  const text = fs.readFileSync(path.join(repoRoot(), 'e2e', 'control-plane', 'versions.env'), 'utf8');
  const v: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) v[m[1]] = process.env[m[1]] || m[2].trim();
  }
  for (const k of ['K8S_VERSION', 'ETCD_VERSION', 'HELM_VERSION']) {
    if (!v[k]) throw new Error(`versions.env has no ${k}`);
  }
  return v as unknown as Versions;
}

/** Where setup.sh puts the binaries: $RUNNEL_K8S_BIN, else $RUNNEL_CACHE/k8s-<version>/bin. */
export function defaultBinDir(): string {
  if (process.env.RUNNEL_K8S_BIN) return process.env.RUNNEL_K8S_BIN;
  const cache = process.env.RUNNEL_CACHE || path.join(os.homedir(), '.cache', 'runnel');
  return path.join(cache, `k8s-${versions().K8S_VERSION}`, 'bin');
}

/**
 * Runs setup.sh (seconds when everything is cached; a cold build takes 10-25 minutes) and returns
 * the bin dir. Skipped when RUNNEL_K8S_BIN is set.
 */
export function ensureBuilt(opts: { log?: (line: string) => void } = {}): string {
  if (process.env.RUNNEL_K8S_BIN) return process.env.RUNNEL_K8S_BIN;
  const script = path.join(repoRoot(), 'e2e', 'control-plane', 'setup.sh');
  const r = spawnSync('bash', [script], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) {
    throw new Error(`${script} failed (exit ${r.status ?? r.signal}):\n${tail(r.stderr ?? '', 60)}\n${r.stdout ?? ''}`);
  }
  opts.log?.(tail(r.stderr ?? '', 8));
  const m = /^RUNNEL_K8S_BIN=(.*)$/m.exec(r.stdout ?? '');
  return m ? m[1] : defaultBinDir();
}

/** e2e/.runs/cp-<UTC time>-<pid>, and e2e/.runs/latest pointing at it. */
export function newRunDir(): string {
  const runs = path.join(repoRoot(), 'e2e', '.runs');
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
  const dir = path.join(runs, `cp-${stamp}-${process.pid}`);
  fs.mkdirSync(dir, { recursive: true });
  // Keep the newest 20 run dirs (logs and PKI only; a few hundred KB each).
  const old = fs
    .readdirSync(runs)
    .filter((d) => d.startsWith('cp-'))
    .sort()
    .slice(0, -20);
  for (const d of old) {
    if (processesUnder(path.join(runs, d)).length === 0)
      fs.rmSync(path.join(runs, d), { recursive: true, force: true });
  }
  const latest = path.join(runs, 'latest');
  try {
    fs.rmSync(latest, { force: true });
    fs.symlinkSync(path.basename(dir), latest);
  } catch {
    /* a concurrent run won the race; harmless */
  }
  return dir;
}
