/**
 * A real Kubernetes control plane on loopback, without Docker: etcd, kube-apiserver,
 * kube-controller-manager and kube-scheduler as local processes, built once by `setup.sh`.
 *
 * Library use (vitest):
 *   const cluster = await startCluster();       // waits for /readyz and the components' /healthz
 *   await cluster.kubectl(['apply', '-f', '-'], { input: yaml });
 *   await cluster.stop();                       // idempotent; also runs on exit, SIGINT, SIGTERM
 *
 * CLI (after `npm run build`):
 *   node dist/e2e/control-plane/cluster.js run  [--run-dir DIR]   foreground; Ctrl-C tears down
 *   node dist/e2e/control-plane/cluster.js up   [--run-dir DIR]   background; prints `export KUBECONFIG=…`
 *   node dist/e2e/control-plane/cluster.js down [--run-dir DIR]   stops what `up` started (default: latest)
 *
 * Each run has a run dir (default e2e/.runs/cp-<time>-<pid>) with the generated PKI, tokens and
 * kubeconfigs, and `logs/<component>.log`; the logs stay after teardown, the etcd data does not.
 * A detached reaper process watches the owning Node process, so the components are killed even
 * when that process is killed with SIGKILL.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

// ------------------------------------------------------------------------------------------------
// Locations and versions
// ------------------------------------------------------------------------------------------------

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
    if (m) v[m[1]!] = process.env[m[1]!] || m[2]!.trim();
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

const REQUIRED_BINARIES = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubectl'];

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
  return m ? m[1]! : defaultBinDir();
}

// ------------------------------------------------------------------------------------------------
// Options and the Cluster handle
// ------------------------------------------------------------------------------------------------

export interface ClusterOptions {
  /** Directory with etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl. */
  binDir?: string;
  /** Run dir for PKI, kubeconfigs and logs; created if missing. Default e2e/.runs/cp-<time>-<pid>. */
  runDir?: string;
  /** Service ClusterIP range. Default 10.77.128.0/17 (see shared notes: keep it on the harness bridge). */
  serviceClusterIpRange?: string;
  /**
   * Address the API server advertises (the `kubernetes` Service endpoint). Default 127.0.0.1, in
   * which case the endpoint reconciler is off (Endpoints may not hold loopback addresses).
   */
  advertiseAddress?: string;
  /** Default 'RBAC'. */
  authorizationMode?: string;
  /** Start kube-scheduler (default true). */
  scheduler?: boolean;
  extraApiServerArgs?: string[];
  extraControllerManagerArgs?: string[];
  extraSchedulerArgs?: string[];
  /** etcd without fsync (default true: it is a throwaway store, and fsync dominates on CI disks). */
  etcdNoFsync?: boolean;
  /** Keep the etcd data dir after stop (default false; logs are always kept). */
  keepData?: boolean;
  /** Time for the whole start, default 120 s. */
  readyTimeoutMs?: number;
  /** Install SIGINT/SIGTERM handlers that tear down and exit (default true). */
  handleSignals?: boolean;
  log?: (line: string) => void;
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  input?: string;
  /** Authenticate with this bearer token instead of the admin one. */
  token?: string;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

interface Component {
  name: string;
  child: ChildProcess;
  pid: number;
  log: string;
  exited?: { code: number | null; signal: NodeJS.Signals | null };
  exitPromise: Promise<void>;
}

export interface Ports {
  etcdClient: number;
  etcdPeer: number;
  apiServer: number;
  controllerManager: number;
  scheduler: number;
}

const live = new Set<Cluster>();
let handlersInstalled = false;

export class Cluster {
  readonly components: Component[] = [];
  /** https://127.0.0.1:<port> */
  server = '';
  /** Admin kubeconfig (user `admin` in `system:masters`, token-authenticated). */
  readonly kubeconfig: string;
  /** Admin bearer token. */
  token = '';
  readonly caFile: string;
  ports!: Ports;
  private stopping?: Promise<void>;
  private reaper?: ChildProcess;

  constructor(
    readonly runDir: string,
    readonly binDir: string,
    private readonly opts: ClusterOptions,
  ) {
    this.kubeconfig = path.join(runDir, 'admin.kubeconfig');
    this.caFile = path.join(runDir, 'pki', 'ca.crt');
  }

  get logDir(): string {
    return path.join(this.runDir, 'logs');
  }

  private get pidFile(): string {
    return path.join(this.runDir, 'component.pids');
  }

  log(line: string): void {
    (this.opts.log ?? ((l: string) => process.stderr.write(`[control-plane] ${l}\n`)))(line);
  }

  /** Environment for kubectl/helm run by hand or by tests: KUBECONFIG and the bin dir first on PATH. */
  env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    return {
      ...process.env,
      KUBECONFIG: this.kubeconfig,
      PATH: `${this.binDir}${path.delimiter}${process.env.PATH ?? ''}`,
      NO_PROXY: noProxy(),
      no_proxy: noProxy(),
      ...extra,
    };
  }

  /** Runs the cached kubectl against this cluster. Never throws for a non-zero exit: see `code`. */
  kubectl(args: string[], o: ExecOptions = {}): Promise<ExecResult> {
    const auth = o.token ? [`--token=${o.token}`] : [];
    return runProcess(path.join(this.binDir, 'kubectl'), [...auth, ...args], this.env(o.env), o);
  }

  /** kubectl that throws (with stderr) on a non-zero exit and returns stdout. */
  async kubectlOk(args: string[], o: ExecOptions = {}): Promise<string> {
    const r = await this.kubectl(args, o);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
    return r.stdout;
  }

  /** Runs the cached helm against this cluster. */
  helm(args: string[], o: ExecOptions = {}): Promise<ExecResult> {
    const home = path.join(this.runDir, 'helm');
    return runProcess(
      path.join(this.binDir, 'helm'),
      args,
      this.env({
        HELM_CACHE_HOME: path.join(home, 'cache'),
        HELM_CONFIG_HOME: path.join(home, 'config'),
        HELM_DATA_HOME: path.join(home, 'data'),
        ...o.env,
      }),
      o,
    );
  }

  /** A raw API request (JSON), authenticated with the admin token or `token`. */
  request(method: string, apiPath: string, body?: unknown, token = this.token): Promise<{ status: number; body: string }> {
    return httpRequest(this.server + apiPath, {
      method,
      ca: fs.readFileSync(this.caFile),
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  }

  /** True once stop() was called. */
  get stopRequested(): boolean {
    return this.stopping !== undefined;
  }

  /** Pids of the component processes (each is the leader of its own process group). */
  pids(): { name: string; pid: number; alive: boolean }[] {
    return this.components.map((c) => ({ name: c.name, pid: c.pid, alive: !c.exited }));
  }

  /** Shell lines that point kubectl/helm at this cluster. */
  exports(): string {
    return [
      `export KUBECONFIG=${this.kubeconfig}`,
      `export PATH=${this.binDir}:$PATH`,
      `# run dir: ${this.runDir}   logs: ${this.logDir}`,
    ].join('\n');
  }

  /**
   * Stops the components in reverse order (SIGTERM to each process group, SIGKILL after 10 s),
   * keeps the logs, removes the etcd data. Idempotent.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const c of [...this.components].reverse()) await terminate(c, 10_000);
      this.reaper?.kill('SIGKILL');
      fs.rmSync(this.pidFile, { force: true });
      if (!this.opts.keepData) fs.rmSync(path.join(this.runDir, 'etcd-data'), { recursive: true, force: true });
      live.delete(this);
      this.log(`stopped; logs in ${this.logDir}`);
    })();
    return this.stopping;
  }

  /** Synchronous last resort for process 'exit': SIGKILL every component group. */
  killNow(): void {
    for (const c of this.components) {
      if (!c.exited) killGroup(c.pid, 'SIGKILL');
    }
    this.reaper?.kill('SIGKILL');
    try {
      fs.rmSync(this.pidFile, { force: true });
    } catch {
      /* exiting anyway */
    }
  }

  // ----------------------------------------------------------------------------------------------

  async start(): Promise<void> {
    const o = this.opts;
    const deadline = Date.now() + (o.readyTimeoutMs ?? 120_000);
    for (const b of REQUIRED_BINARIES) {
      if (!fs.existsSync(path.join(this.binDir, b))) {
        throw new Error(`${path.join(this.binDir, b)} is missing: run e2e/control-plane/setup.sh first`);
      }
    }
    fs.mkdirSync(this.logDir, { recursive: true });
    // Every start is a fresh cluster, also in a reused run dir.
    fs.rmSync(path.join(this.runDir, 'etcd-data'), { recursive: true, force: true });
    live.add(this);
    installHandlers(o.handleSignals ?? true);
    this.startReaper();

    const ports = (this.ports = {
      etcdClient: await freePort(),
      etcdPeer: await freePort(),
      apiServer: await freePort(),
      controllerManager: await freePort(),
      scheduler: await freePort(),
    });
    const cidr = o.serviceClusterIpRange ?? '10.77.128.0/17';
    const advertise = o.advertiseAddress ?? '127.0.0.1';
    const pki = generatePki(path.join(this.runDir, 'pki'), { serviceIp: firstIp(cidr), advertise });
    this.server = `https://127.0.0.1:${ports.apiServer}`;

    // Tokens: the admin (system:masters) and one identity per component, so that the bootstrap
    // RBAC roles of kube-controller-manager and kube-scheduler are what they run with.
    this.token = randomBytes(24).toString('hex');
    const cmToken = randomBytes(24).toString('hex');
    const schedToken = randomBytes(24).toString('hex');
    const tokenFile = path.join(this.runDir, 'tokens.csv');
    fs.writeFileSync(
      tokenFile,
      [
        `${this.token},admin,uid-admin,"system:masters"`,
        `${cmToken},system:kube-controller-manager,uid-kube-controller-manager`,
        `${schedToken},system:kube-scheduler,uid-kube-scheduler`,
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    const ca = fs.readFileSync(pki.caCert);
    writeKubeconfig(this.kubeconfig, this.server, ca, 'admin', this.token);
    const cmKubeconfig = path.join(this.runDir, 'controller-manager.kubeconfig');
    writeKubeconfig(cmKubeconfig, this.server, ca, 'system:kube-controller-manager', cmToken);
    const schedKubeconfig = path.join(this.runDir, 'scheduler.kubeconfig');
    writeKubeconfig(schedKubeconfig, this.server, ca, 'system:kube-scheduler', schedToken);

    try {
      // etcd
      const etcd = this.spawn('etcd', [
        '--name=default',
        '--logger=zap', // the default of 3.5; 3.4 (Debian) otherwise warns about capnslog
        `--data-dir=${path.join(this.runDir, 'etcd-data')}`,
        `--listen-client-urls=http://127.0.0.1:${ports.etcdClient}`,
        `--advertise-client-urls=http://127.0.0.1:${ports.etcdClient}`,
        `--listen-peer-urls=http://127.0.0.1:${ports.etcdPeer}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${ports.etcdPeer}`,
        `--initial-cluster=default=http://127.0.0.1:${ports.etcdPeer}`,
        ...((o.etcdNoFsync ?? true) ? ['--unsafe-no-fsync'] : []),
      ]);
      await waitFor('etcd /health', deadline, etcd, async () => {
        const r = await httpRequest(`http://127.0.0.1:${ports.etcdClient}/health`, { method: 'GET' });
        return r.status === 200 && r.body.includes('"true"');
      });

      // kube-apiserver
      const apiserver = this.spawn('kube-apiserver', [
        `--etcd-servers=http://127.0.0.1:${ports.etcdClient}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${ports.apiServer}`,
        `--advertise-address=${advertise}`,
        ...(advertise.startsWith('127.') ? ['--endpoint-reconciler-type=none'] : []),
        `--cert-dir=${path.join(this.runDir, 'pki', 'apiserver')}`,
        `--tls-cert-file=${pki.apiserverCert}`,
        `--tls-private-key-file=${pki.apiserverKey}`,
        `--client-ca-file=${pki.caCert}`,
        // Front-proxy (request header) authentication as kubeadm sets it up; without it the
        // controller manager's and scheduler's delegated authentication log errors forever.
        `--requestheader-client-ca-file=${pki.caCert}`,
        '--requestheader-allowed-names=front-proxy-client',
        '--requestheader-username-headers=X-Remote-User',
        '--requestheader-group-headers=X-Remote-Group',
        '--requestheader-extra-headers-prefix=X-Remote-Extra-',
        `--token-auth-file=${tokenFile}`,
        `--authorization-mode=${o.authorizationMode ?? 'RBAC'}`,
        '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
        `--service-account-key-file=${pki.saKey}`,
        `--service-account-signing-key-file=${pki.saKey}`,
        `--service-cluster-ip-range=${cidr}`,
        '--allow-privileged=true',
        '--profiling=false',
        ...(o.extraApiServerArgs ?? []),
      ]);
      await waitFor('kube-apiserver /readyz', deadline, apiserver, async () => {
        const r = await this.request('GET', '/readyz');
        return r.status === 200;
      });

      // kube-controller-manager and kube-scheduler
      const cm = this.spawn('kube-controller-manager', [
        `--kubeconfig=${cmKubeconfig}`,
        `--authentication-kubeconfig=${cmKubeconfig}`,
        `--authorization-kubeconfig=${cmKubeconfig}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${ports.controllerManager}`,
        `--cert-dir=${path.join(this.runDir, 'pki', 'controller-manager')}`,
        '--leader-elect=false',
        '--use-service-account-credentials=true',
        `--service-account-private-key-file=${pki.saKey}`,
        `--root-ca-file=${pki.caCert}`,
        `--cluster-signing-cert-file=${pki.caCert}`,
        `--cluster-signing-key-file=${pki.caKey}`,
        `--service-cluster-ip-range=${cidr}`,
        '--cluster-name=runnel-e2e',
        '--profiling=false',
        ...(o.extraControllerManagerArgs ?? []),
      ]);
      let sched: Component | undefined;
      if (o.scheduler ?? true) {
        sched = this.spawn('kube-scheduler', [
          `--kubeconfig=${schedKubeconfig}`,
          `--authentication-kubeconfig=${schedKubeconfig}`,
          `--authorization-kubeconfig=${schedKubeconfig}`,
          '--bind-address=127.0.0.1',
          `--secure-port=${ports.scheduler}`,
          '--leader-elect=false',
          '--profiling=false',
          ...(o.extraSchedulerArgs ?? []),
        ]);
      }
      const healthz = (port: number) => async () =>
        (await httpRequest(`https://127.0.0.1:${port}/healthz`, { method: 'GET', insecure: true })).status === 200;
      await Promise.all([
        waitFor('kube-controller-manager /healthz', deadline, cm, healthz(ports.controllerManager)),
        sched ? waitFor('kube-scheduler /healthz', deadline, sched, healthz(ports.scheduler)) : undefined,
      ]);
      this.log(`ready: ${this.server} (KUBECONFIG=${this.kubeconfig})`);
    } catch (err) {
      const logs = this.components.map((c) => `--- ${c.name} (${c.log}):\n${tail(readOr(c.log), 15)}`).join('\n');
      await this.stop();
      throw new Error(`control plane did not start: ${(err as Error).message}\n${logs}`);
    }
  }

  private spawn(name: string, args: string[]): Component {
    const log = path.join(this.logDir, `${name}.log`);
    const fd = fs.openSync(log, 'a');
    const child = spawn(path.join(this.binDir, name), args, {
      detached: true, // own process group: a terminal's Ctrl-C reaches us, and we stop them in order
      stdio: ['ignore', fd, fd],
      env: { ...process.env, NO_PROXY: noProxy(), no_proxy: noProxy() },
    });
    fs.closeSync(fd);
    if (child.pid === undefined) throw new Error(`cannot start ${name}`);
    const c: Component = {
      name,
      child,
      pid: child.pid,
      log,
      exitPromise: new Promise<void>((resolve) => {
        child.once('exit', (code, signal) => {
          c.exited = { code, signal };
          if (!this.stopping) this.log(`${name} exited (code ${code}, signal ${signal}); see ${log}`);
          resolve();
        });
        child.once('error', (e) => {
          c.exited = { code: -1, signal: null };
          this.log(`${name}: ${e.message}`);
          resolve();
        });
      }),
    };
    this.components.push(c);
    fs.appendFileSync(this.pidFile, `${c.pid}\n`);
    fs.writeFileSync(path.join(this.logDir, `${name}.args`), [path.join(this.binDir, name), ...args].join(' \\\n  ') + '\n');
    return c;
  }

  /**
   * A detached shell that outlives us only to kill the components if this process dies without
   * running its exit handlers (SIGKILL, OOM). It exits at once when the pid file is gone.
   */
  private startReaper(): void {
    const script = [
      'parent=$1; pids=$2; data=$3',
      'while kill -0 "$parent" 2>/dev/null; do sleep 1; done',
      '[ -f "$pids" ] || exit 0',
      'for p in $(cat "$pids"); do kill -TERM -- "-$p" 2>/dev/null; done',
      'sleep 5',
      'for p in $(cat "$pids"); do kill -KILL -- "-$p" 2>/dev/null; done',
      'rm -f "$pids"',
      '[ -z "$data" ] || rm -rf "$data"',
    ].join('\n');
    fs.writeFileSync(this.pidFile, '');
    this.reaper = spawn('bash', [
      '-c',
      script,
      'runnel-cp-reaper',
      String(process.pid),
      this.pidFile,
      this.opts.keepData ? '' : path.join(this.runDir, 'etcd-data'),
    ], {
      detached: true,
      stdio: 'ignore',
    });
    this.reaper.unref();
  }
}

/** Builds (if needed, via ensureBuilt only when asked) nothing: starts a control plane from `binDir`. */
export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const binDir = opts.binDir ?? defaultBinDir();
  const runDir = path.resolve(opts.runDir ?? newRunDir());
  fs.mkdirSync(runDir, { recursive: true });
  // Ports are picked free and then bound by another process a moment later; should something
  // else take one in between, start again on new ports.
  for (let attempt = 1; ; attempt++) {
    const cluster = new Cluster(runDir, binDir, opts);
    try {
      await cluster.start();
      return cluster;
    } catch (err) {
      if (attempt >= 3 || !/address already in use/i.test((err as Error).message)) throw err;
      cluster.log(`a port was taken while starting; retrying (${(err as Error).message.split('\n')[0]})`);
    }
  }
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
    if (processesUnder(path.join(runs, d)).length === 0) fs.rmSync(path.join(runs, d), { recursive: true, force: true });
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

/** Processes whose command line mentions `dir` (the run dir): what a teardown must leave none of. */
export function processesUnder(dir: string): { pid: number; cmd: string }[] {
  const out: { pid: number; cmd: string }[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let cmd: string;
    try {
      cmd = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ');
    } catch {
      continue;
    }
    if (cmd.includes(dir)) out.push({ pid: Number(entry), cmd: cmd.slice(0, 200) });
  }
  return out;
}

// ------------------------------------------------------------------------------------------------
// Helpers
// ------------------------------------------------------------------------------------------------

function installHandlers(signals: boolean): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', () => {
    for (const c of live) c.killNow();
  });
  if (!signals) return;
  for (const [sig, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ] as const) {
    process.once(sig, () => {
      if (live.size) process.stderr.write(`[control-plane] ${sig}: tearing down\n`);
      Promise.allSettled([...live].map((c) => c.stop())).finally(() => process.exit(code));
    });
  }
}

/** Signals a process group (a detached child's), or the process alone if it leads none. */
export function killGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      /* gone */
    }
  }
}

/** Resolves true when the component has exited, false after `ms`; leaves no timer behind. */
function exitWithin(c: Component, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    void c.exitPromise.then(() => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

async function terminate(c: Component, graceMs: number): Promise<void> {
  if (!c.exited) {
    killGroup(c.pid, 'SIGTERM');
    if (!(await exitWithin(c, graceMs))) {
      killGroup(c.pid, 'SIGKILL');
      await exitWithin(c, 5_000);
    }
  }
  // The group may still hold a child of the component (none of ours fork, but be sure).
  killGroup(c.pid, 'SIGKILL');
}

async function waitFor(what: string, deadline: number, comp: Component, check: () => Promise<boolean>): Promise<void> {
  let last = '';
  while (Date.now() < deadline) {
    if (comp.exited) throw new Error(`${comp.name} exited (code ${comp.exited.code}) before ${what} was ready`);
    try {
      if (await check()) return;
    } catch (e) {
      last = (e as Error).message;
    }
    await sleep(250);
  }
  throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${last})` : ''}`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function noProxy(): string {
  const extra = process.env.NO_PROXY ?? process.env.no_proxy;
  return ['127.0.0.1', 'localhost', '10.77.0.0/16', '.svc', '.cluster.local', ...(extra ? [extra] : [])].join(',');
}

function httpRequest(
  url: string,
  o: { method: string; headers?: Record<string, string>; body?: string; ca?: Buffer; insecure?: boolean },
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const mod = u.protocol === 'https:' ? https : http;
    const req = mod.request(
      u,
      {
        method: o.method,
        headers: o.headers,
        timeout: 5_000,
        ...(u.protocol === 'https:' ? { ca: o.ca, rejectUnauthorized: !o.insecure } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout: ${o.method} ${url}`)));
    req.on('error', reject);
    req.end(o.body);
  });
}

/** A child process whose output is collected; its stdin stays open until `end()`. */
export interface RunningProcess {
  readonly pid: number | undefined;
  /** Output so far. */
  readonly stdout: string;
  readonly stderr: string;
  write(data: string): void;
  /** Closes stdin (with `data` written first). */
  end(data?: string): void;
  kill(signal?: NodeJS.Signals): void;
  /** Settles when the process has exited and its output is closed; rejects if it could not start. */
  readonly done: Promise<ExecResult>;
}

/** Starts `bin`; SIGKILLed after `timeoutMs` (default 120 s). */
export function spawnProcess(bin: string, args: string[], env: NodeJS.ProcessEnv, o: { timeoutMs?: number; cwd?: string } = {}): RunningProcess {
  const child = spawn(bin, args, { env, cwd: o.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdin.on('error', () => {});
  const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 120_000);
  const done = new Promise<ExecResult>((resolve, reject) => {
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
  });
  return {
    pid: child.pid,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    write: (data) => void child.stdin.write(data),
    end: (data) => void child.stdin.end(data ?? ''),
    kill: (signal = 'SIGTERM') => void child.kill(signal),
    done,
  };
}

/** Runs `bin` to completion with `o.input` on stdin. Never rejects for a non-zero exit: see `code`. */
export function runProcess(bin: string, args: string[], env: NodeJS.ProcessEnv, o: ExecOptions & { cwd?: string } = {}): Promise<ExecResult> {
  const p = spawnProcess(bin, args, env, o);
  p.end(o.input);
  return p.done;
}

function tail(text: string, lines: number): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

function readOr(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function firstIp(cidr: string): string {
  const [addr, bits] = cidr.split('/');
  const n = addr!.split('.').reduce((a, p) => a * 256 + Number(p), 0);
  const mask = bits === '0' ? 0 : (0xffffffff << (32 - Number(bits))) >>> 0;
  const ip = ((n & mask) >>> 0) + 1;
  return [24, 16, 8, 0].map((s) => (ip >>> s) & 255).join('.');
}

function writeKubeconfig(file: string, server: string, ca: Buffer, user: string, token: string): void {
  const yaml = `apiVersion: v1
kind: Config
clusters:
- name: runnel-e2e
  cluster:
    server: ${server}
    certificate-authority-data: ${ca.toString('base64')}
users:
- name: ${JSON.stringify(user)}
  user:
    token: ${token}
contexts:
- name: runnel-e2e
  context:
    cluster: runnel-e2e
    user: ${JSON.stringify(user)}
    namespace: default
current-context: runnel-e2e
`;
  fs.writeFileSync(file, yaml, { mode: 0o600 });
}

interface Pki {
  caCert: string;
  caKey: string;
  apiserverCert: string;
  apiserverKey: string;
  saKey: string;
}

/** A CA, the API server's serving certificate signed by it, and the service-account signing key. */
function generatePki(dir: string, o: { serviceIp: string; advertise: string }): Pki {
  fs.mkdirSync(dir, { recursive: true });
  const p = (f: string) => path.join(dir, f);
  const openssl = (...args: string[]) => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr || r.error?.message}`);
  };
  fs.writeFileSync(
    p('ca.cnf'),
    `[req]
distinguished_name = dn
prompt = no
[dn]
CN = runnel-e2e-ca
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier = hash
`,
  );
  openssl('req', '-x509', '-new', '-nodes', '-newkey', 'rsa:2048', '-keyout', p('ca.key'), '-out', p('ca.crt'),
    '-days', '3650', '-config', p('ca.cnf'), '-extensions', 'v3_ca');

  const ips = [...new Set(['127.0.0.1', o.serviceIp, o.advertise])];
  const dns = ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local'];
  fs.writeFileSync(
    p('apiserver.cnf'),
    `[req]
distinguished_name = dn
prompt = no
[dn]
CN = kube-apiserver
[v3]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
authorityKeyIdentifier = keyid
subjectAltName = @alt
[alt]
${dns.map((d, i) => `DNS.${i + 1} = ${d}`).join('\n')}
${ips.map((ip, i) => `IP.${i + 1} = ${ip}`).join('\n')}
`,
  );
  openssl('req', '-new', '-nodes', '-newkey', 'rsa:2048', '-keyout', p('apiserver.key'), '-out', p('apiserver.csr'),
    '-config', p('apiserver.cnf'));
  openssl('x509', '-req', '-in', p('apiserver.csr'), '-CA', p('ca.crt'), '-CAkey', p('ca.key'),
    '-set_serial', '0x' + randomBytes(8).toString('hex'), '-days', '3650', '-out', p('apiserver.crt'),
    '-extfile', p('apiserver.cnf'), '-extensions', 'v3');
  // One RSA key both signs service-account tokens (API server, controller manager) and verifies them.
  openssl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', p('sa.key'));
  return { caCert: p('ca.crt'), caKey: p('ca.key'), apiserverCert: p('apiserver.crt'), apiserverKey: p('apiserver.key'), saKey: p('sa.key') };
}

// ------------------------------------------------------------------------------------------------
// CLI
// ------------------------------------------------------------------------------------------------

function parseArgs(argv: string[]): { cmd: string; runDir?: string; setup: boolean } {
  const [cmd = 'help', ...rest] = argv;
  let runDir: string | undefined;
  let setup = true;
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    if (a === '--run-dir') runDir = rest[++i];
    else if (a.startsWith('--run-dir=')) runDir = a.slice('--run-dir='.length);
    else if (a === '--no-setup') setup = false;
    else throw new Error(`unknown argument ${a}`);
  }
  return { cmd, runDir, setup };
}

async function cli(argv: string[]): Promise<number> {
  const a = parseArgs(argv);
  const latest = () => path.join(repoRoot(), 'e2e', '.runs', 'latest');
  switch (a.cmd) {
    case 'run': {
      const binDir = a.setup ? ensureBuilt() : defaultBinDir();
      const cluster = await startCluster({ binDir, runDir: a.runDir });
      fs.writeFileSync(path.join(cluster.runDir, 'owner.pid'), `${process.pid}\n`);
      fs.writeFileSync(path.join(cluster.runDir, 'env.sh'), cluster.exports() + '\n');
      fs.writeFileSync(path.join(cluster.runDir, 'ready'), cluster.server + '\n');
      process.stdout.write(cluster.exports() + '\n');
      process.stderr.write('[control-plane] running; Ctrl-C (SIGINT) or SIGTERM tears it down\n');
      // If a component dies, tear the rest down too rather than leave a half-working plane.
      await Promise.race(cluster.components.map((c) => c.exitPromise));
      if (cluster.stopRequested) {
        // A signal handler is tearing down and will exit.
        await cluster.stop();
        return 0;
      }
      process.stderr.write('[control-plane] a component exited; tearing down\n');
      await cluster.stop();
      return 1;
    }
    case 'up': {
      if (a.setup) ensureBuilt();
      const runDir = path.resolve(a.runDir ?? newRunDir());
      fs.mkdirSync(runDir, { recursive: true });
      const self = fileURLToPath(import.meta.url);
      const out = fs.openSync(path.join(runDir, 'cluster.log'), 'a');
      const child = spawn(process.execPath, [...process.execArgv, self, 'run', '--no-setup', '--run-dir', runDir], {
        detached: true,
        stdio: ['ignore', out, out],
      });
      fs.closeSync(out);
      let exited = false;
      child.once('exit', () => (exited = true));
      const deadline = Date.now() + 180_000;
      while (!fs.existsSync(path.join(runDir, 'ready'))) {
        if (exited || Date.now() > deadline) {
          if (!exited) killGroup(child.pid!, 'SIGTERM');
          process.stderr.write(readOr(path.join(runDir, 'cluster.log')));
          process.stderr.write(`control plane did not start; see ${runDir}\n`);
          return 1;
        }
        await sleep(200);
      }
      child.unref();
      process.stdout.write(readOr(path.join(runDir, 'env.sh')));
      process.stderr.write(`[control-plane] up (pid ${child.pid}); stop with: cluster.js down --run-dir ${runDir}\n`);
      return 0;
    }
    case 'down': {
      const runDir = fs.realpathSync(a.runDir ?? latest());
      const pidText = readOr(path.join(runDir, 'owner.pid')).trim();
      if (!pidText) {
        process.stderr.write(`no owner.pid in ${runDir}: nothing to stop\n`);
        return 0;
      }
      const pid = Number(pidText);
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline && processesUnder(runDir).length > 0) await sleep(200);
      const left = processesUnder(runDir);
      fs.rmSync(path.join(runDir, 'owner.pid'), { force: true });
      fs.rmSync(path.join(runDir, 'ready'), { force: true });
      if (left.length) {
        process.stderr.write(`still running: ${left.map((p) => `${p.pid} ${p.cmd}`).join('\n')}\n`);
        return 1;
      }
      process.stderr.write(`[control-plane] down; logs in ${path.join(runDir, 'logs')}\n`);
      return 0;
    }
    default:
      process.stderr.write(
        'usage: cluster.js run|up|down [--run-dir DIR] [--no-setup]\n' +
          '  run   start in the foreground; SIGINT/SIGTERM tears everything down\n' +
          '  up    start in the background, print `export KUBECONFIG=...` lines\n' +
          '  down  stop what `up` started (default run dir: e2e/.runs/latest)\n',
      );
      return a.cmd === 'help' ? 0 : 2;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(fs.realpathSync(process.argv[1])).href) {
  cli(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
