/**
 * A real Kubernetes control plane on loopback, without Docker: etcd, kube-apiserver,
 * kube-controller-manager and kube-scheduler as local processes, built once by `setup.sh`.
 *
 * Library use (vitest):
 *   const cluster = await startCluster();       // waits for /readyz and the components' /healthz
 *   await cluster.kubectl(['apply', '-f', '-'], { input: yaml });
 *   await cluster.stop();                       // idempotent; also runs on exit, SIGINT, SIGTERM
 *
 * CLI: cli.ts (cluster.sh). The pieces: paths.ts (repo, versions, binaries, run dirs), pki.ts,
 * credentials.ts (tokens, kubeconfigs), processes.ts, probes.ts.
 *
 * Each run has a run dir (default e2e/.runs/cp-<time>-<pid>) with the generated PKI, tokens and
 * kubeconfigs, and `logs/<component>.log`; the logs stay after teardown, the etcd data does not.
 * A detached reaper process watches the owning Node process, so the components are killed even
 * when that process is killed with SIGKILL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { newToken, writeKubeconfig, writeTokenFile } from './credentials.js';
import { defaultBinDir, newRunDir } from './paths.js';
import { firstIp, generatePki } from './pki.js';
import { freePort, httpRequest, waitFor } from './probes.js';
import { killGroup, readOr, runProcess, tail, type ExecOptions, type ExecResult } from './processes.js';

const REQUIRED_BINARIES = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubectl'];

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
  request(
    method: string,
    apiPath: string,
    body?: unknown,
    token = this.token,
  ): Promise<{ status: number; body: string }> {
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
    this.token = newToken();
    const cmToken = newToken();
    const schedToken = newToken();
    const tokenFile = path.join(this.runDir, 'tokens.csv');
    writeTokenFile(tokenFile, [
      { user: 'admin', groups: ['system:masters'], token: this.token },
      { user: 'system:kube-controller-manager', token: cmToken },
      { user: 'system:kube-scheduler', token: schedToken },
    ]);
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
      await waitFor('etcd /health', deadline, exitedWhy(etcd), async () => {
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
      await waitFor('kube-apiserver /readyz', deadline, exitedWhy(apiserver), async () => {
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
        waitFor('kube-controller-manager /healthz', deadline, exitedWhy(cm), healthz(ports.controllerManager)),
        sched ? waitFor('kube-scheduler /healthz', deadline, exitedWhy(sched), healthz(ports.scheduler)) : undefined,
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
    fs.writeFileSync(
      path.join(this.logDir, `${name}.args`),
      [path.join(this.binDir, name), ...args].join(' \\\n  ') + '\n',
    );
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
    this.reaper = spawn(
      'bash',
      [
        '-c',
        script,
        'runnel-cp-reaper',
        String(process.pid),
        this.pidFile,
        this.opts.keepData ? '' : path.join(this.runDir, 'etcd-data'),
      ],
      {
        detached: true,
        stdio: 'ignore',
      },
    );
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
      // Fire and forget: a signal handler cannot wait, and allSettled never rejects; the exit ends it.
      void Promise.allSettled([...live].map((c) => c.stop())).finally(() => process.exit(code));
    });
  }
}

/** For waitFor: why the component is gone, if it is. */
function exitedWhy(c: Component): () => string | undefined {
  return () => (c.exited ? `${c.name} exited (code ${c.exited.code})` : undefined);
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

function noProxy(): string {
  const extra = process.env.NO_PROXY ?? process.env.no_proxy;
  return ['127.0.0.1', 'localhost', '10.77.0.0/16', '.svc', '.cluster.local', ...(extra ? [extra] : [])].join(',');
}
