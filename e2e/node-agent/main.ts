/**
 * The e2e node agent: plays the kubelet (and kube-proxy, and a storage provisioner) for one Node,
 * running the pods of our own images as local processes in their own network namespaces. Needs root.
 *
 *   node dist/e2e/node-agent/main.js run --kubeconfig FILE --run-dir DIR [--node-name NAME] [--owner-pid PID]
 *   node dist/e2e/node-agent/main.js cleanup [--run-dir DIR]
 *
 * `run` logs JSON lines on stdout; pods' output goes to DIR/logs/pods/<ns>_<pod>_<uid>_<container>.log.
 * SIGTERM/SIGINT (or the death of --owner-pid) stops every pod (SIGTERM, then SIGKILL after their
 * grace period, at most 15 s) and removes the namespaces, veths, bridge, iptables chains and mount
 * points it created. `cleanup` removes what a killed agent left behind (also done at every start).
 * See e2e/README.md ("The node agent").
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isConflict, isNotFound, Kube, type Endpoints, type Node, type Pod, type Service } from './kube.js';
import {
  applyServiceRules,
  BRIDGE_IP,
  cleanupNetwork,
  dnsRecords,
  nodeHostsFile,
  serviceRules,
  setupBridge,
  writeInPlace,
} from './net.js';
import { PodRuntime, type AgentContext } from './pods.js';
import { Provisioner } from './storage.js';

function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (fs.existsSync(path.join(dir, 'e2e', 'control-plane', 'versions.env'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('cannot find the repository root');
    dir = parent;
  }
}

function log(msg: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(JSON.stringify({ time: new Date().toISOString(), msg, ...fields }) + '\n');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Kubernetes' name for this machine's architecture (GOARCH). */
const ARCH =
  (
    {
      x64: 'amd64',
      arm64: 'arm64',
      arm: 'arm',
      ia32: '386',
      ppc64: 'ppc64le',
      s390x: 's390x',
      riscv64: 'riscv64',
    } as Record<string, string>
  )[process.arch] ?? process.arch;

function parseArgs(argv: string[]): { cmd: string; opts: Record<string, string> } {
  const [cmd = 'help', ...rest] = argv;
  const opts: Record<string, string> = {};
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    const eq = a.indexOf('=');
    if (eq > 0) opts[a.slice(2, eq)] = a.slice(eq + 1);
    else opts[a.slice(2)] = rest[++i] ?? '';
  }
  return { cmd, opts };
}

/** Removes the mount points listed in <run dir>/node/mountpoints (if still empty), deepest first. */
function removeMountPoints(runDir: string, extra: Iterable<string> = []): void {
  const file = path.join(runDir, 'node', 'mountpoints');
  let listed: string[] = [];
  try {
    listed = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
  } catch {
    /* none */
  }
  const all = [...new Set([...listed, ...extra])].sort((a, b) => b.length - a.length);
  for (const p of all) {
    try {
      const st = fs.lstatSync(p);
      if (st.isDirectory()) {
        // Only empty directory trees: never delete anything that holds a file.
        removeEmptyTree(p);
      } else if (st.size === 0) {
        fs.rmSync(p);
      }
    } catch {
      /* gone */
    }
  }
  fs.rmSync(file, { force: true });
}

function removeEmptyTree(dir: string): boolean {
  let empty = true;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory() && removeEmptyTree(path.join(dir, e.name))) continue;
    empty = false;
  }
  if (empty) fs.rmdirSync(dir);
  return empty;
}

const LOCK_FILE = '/run/runnel-e2e-node-agent.pid';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A pid file taken with O_EXCL; a stale one (its process gone) is taken over. */
async function takeMachineLock(timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let announced = false;
  for (;;) {
    try {
      fs.writeFileSync(LOCK_FILE, `${process.pid}\n`, { flag: 'wx' });
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const holder = Number(fs.readFileSync(LOCK_FILE, 'utf8').trim());
    if (!holder || !alive(holder)) {
      fs.rmSync(LOCK_FILE, { force: true });
      continue;
    }
    if (!announced) log('another node agent runs on this machine; waiting for it', { pid: holder, lock: LOCK_FILE });
    announced = true;
    if (Date.now() > deadline) throw new Error(`another node agent (pid ${holder}) still holds ${LOCK_FILE}`);
    await sleep(1000);
  }
}

function releaseMachineLock(): void {
  try {
    if (Number(fs.readFileSync(LOCK_FILE, 'utf8').trim()) === process.pid) fs.rmSync(LOCK_FILE);
  } catch {
    /* not ours */
  }
}

async function run(opts: Record<string, string>): Promise<number> {
  const kubeconfig = opts.kubeconfig ?? process.env.KUBECONFIG;
  if (!kubeconfig) throw new Error('--kubeconfig is required');
  const runDir = path.resolve(opts['run-dir'] ?? path.dirname(kubeconfig));
  const nodeName = opts['node-name'] ?? 'runnel-e2e-node';
  const ownerPid = opts['owner-pid'] ? Number(opts['owner-pid']) : undefined;
  const repo = repoRoot();
  fs.mkdirSync(path.join(runDir, 'node'), { recursive: true });
  fs.mkdirSync(path.join(runDir, 'logs', 'pods'), { recursive: true });
  fs.writeFileSync(path.join(runDir, 'node', 'agent.pid'), `${process.pid}\n`);

  // One node agent per machine (the bridge, the address range and the iptables chains are
  // machine-wide): wait for another run's agent to finish, then clean up what an earlier agent
  // killed with SIGKILL may have left.
  await takeMachineLock(Number(opts['lock-timeout-seconds'] ?? 900) * 1000);
  cleanupNetwork();
  setupBridge();
  log('network ready', { bridge: BRIDGE_IP });

  const kube = new Kube(kubeconfig);
  const apiUrl = new URL(kube.server);
  const apiPort = Number(apiUrl.port || 443);

  // The API server listens on loopback; pods reach it through the `kubernetes` Service, whose
  // endpoint is the advertised address (the bridge's) and this forwarder on it.
  const forwarder = net.createServer((inbound) => {
    const outbound = net.connect({ host: apiUrl.hostname, port: apiPort });
    inbound.pipe(outbound).pipe(inbound);
    const close = () => (inbound.destroy(), outbound.destroy());
    inbound.on('error', close);
    outbound.on('error', close);
  });
  await new Promise<void>((resolve, reject) => {
    forwarder.once('error', reject);
    forwarder.listen(apiPort, BRIDGE_IP, () => resolve());
  });
  log('api forwarder listening', { on: `${BRIDGE_IP}:${apiPort}`, to: `${apiUrl.hostname}:${apiPort}` });

  let kubernetesService: { host: string; port: string } | undefined;
  const ctx: AgentContext = {
    kube,
    nodeName,
    repo,
    runDir,
    log,
    kubernetesService: () => kubernetesService,
    createdMountPoints: new Set(),
  };
  const provisioner = new Provisioner(kube, path.join(runDir, 'volumes'), nodeName, log);
  const pods = new Map<string, PodRuntime>();
  let stopping = false;

  // ---- the Node and its Lease
  const nodeStatus = () => ({
    capacity: { cpu: '8', memory: '32Gi', pods: '110', 'ephemeral-storage': '100Gi' },
    allocatable: { cpu: '8', memory: '32Gi', pods: '110', 'ephemeral-storage': '100Gi' },
    addresses: [
      { type: 'InternalIP', address: BRIDGE_IP },
      { type: 'Hostname', address: nodeName },
    ],
    conditions: [
      {
        type: 'Ready',
        status: 'True',
        reason: 'KubeletReady',
        message: 'runnel e2e node agent is posting ready status',
        lastHeartbeatTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
        lastTransitionTime: startedAt,
      },
      ...['MemoryPressure', 'DiskPressure', 'PIDPressure'].map((type) => ({
        type,
        status: 'False',
        reason: `KubeletHasNo${type}`,
        lastHeartbeatTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
        lastTransitionTime: startedAt,
      })),
    ],
    nodeInfo: {
      machineID: '',
      systemUUID: '',
      bootID: '',
      kernelVersion: '',
      osImage: 'runnel e2e',
      containerRuntimeVersion: 'runnel-process://1',
      kubeletVersion: 'v1.33.0',
      kubeProxyVersion: '',
      operatingSystem: 'linux',
      architecture: ARCH,
    },
    daemonEndpoints: { kubeletEndpoint: { Port: 0 } },
  });
  const startedAt = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  // The labels a kubelet puts on its Node. Others (topology.kubernetes.io/zone, added with
  // `kubectl label node`) are left alone: the agent never writes the Node's metadata again.
  const labels = {
    'kubernetes.io/hostname': nodeName,
    'kubernetes.io/os': 'linux',
    'kubernetes.io/arch': ARCH,
    'beta.kubernetes.io/os': 'linux',
    'beta.kubernetes.io/arch': ARCH,
  };
  let node: Node;
  try {
    node = await kube.request<Node>('POST', '/api/v1/nodes', {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: nodeName, labels },
      spec: {},
    });
  } catch (e) {
    if (!isConflict(e)) throw e;
    node = await kube.mergePatch<Node>(`/api/v1/nodes/${nodeName}`, { metadata: { labels } });
  }
  await kube.mergePatch(`/api/v1/nodes/${nodeName}/status`, { status: nodeStatus() });
  log('node registered', { node: nodeName });
  await provisioner.ensureStorageClass();

  const renewLease = async () => {
    const leasePath = `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${nodeName}`;
    const renewTime = new Date()
      .toISOString()
      .replace('Z', '000Z')
      .replace(/(\.\d{6})\d*Z$/, '$1Z');
    const existing = await kube.getOr(leasePath);
    if (!existing) {
      await kube.request('POST', '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases', {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: {
          name: nodeName,
          namespace: 'kube-node-lease',
          ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: nodeName, uid: node.metadata.uid }],
        },
        spec: { holderIdentity: nodeName, leaseDurationSeconds: 40, renewTime },
      });
    } else {
      await kube.mergePatch(leasePath, { spec: { holderIdentity: nodeName, leaseDurationSeconds: 40, renewTime } });
    }
  };
  await renewLease();
  let lastLease = Date.now();
  let lastNodeStatus = Date.now();

  // ---- shutdown
  let resolveDone!: (code: number) => void;
  const done = new Promise<number>((r) => (resolveDone = r));
  const shutdown = async (why: string) => {
    if (stopping) return;
    stopping = true;
    log('shutting down', { why });
    await Promise.all(
      [...pods.values()].map((p) => p.kill(Math.min(p.pod.spec.terminationGracePeriodSeconds ?? 30, 15))),
    );
    forwarder.close();
    cleanupNetwork();
    removeMountPoints(runDir, ctx.createdMountPoints);
    kube.destroy();
    fs.rmSync(path.join(runDir, 'node', 'agent.pid'), { force: true });
    releaseMachineLock();
    log('stopped');
    resolveDone(0);
  };
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.once(sig, () => void shutdown(sig));
  if (ownerPid) {
    const t = setInterval(() => {
      try {
        process.kill(ownerPid, 0);
      } catch {
        clearInterval(t);
        void shutdown(`owner ${ownerPid} exited`);
      }
    }, 1000);
    t.unref();
  }

  // ---- the loop
  const nodeHosts = path.join(runDir, 'node', 'hosts');
  const loop = async () => {
    while (!stopping) {
      const started = Date.now();
      try {
        const [podList, services, endpoints] = await Promise.all([
          kube.list<Pod>('/api/v1/pods', { fieldSelector: `spec.nodeName=${nodeName}` }),
          kube.list<Service>('/api/v1/services'),
          kube.list<Endpoints>('/api/v1/endpoints'),
        ]);
        const k8s = services.find((s) => s.metadata.namespace === 'default' && s.metadata.name === 'kubernetes');
        if (k8s?.spec.clusterIP)
          kubernetesService = { host: k8s.spec.clusterIP, port: String(k8s.spec.ports?.[0]?.port ?? 443) };
        const records = dnsRecords(services, endpoints);
        writeInPlace(nodeHosts, nodeHostsFile(records));
        applyServiceRules(serviceRules(services, endpoints));
        if (stopping) break;

        const seen = new Set<string>();
        for (const pod of podList) {
          seen.add(pod.metadata.uid);
          let rt = pods.get(pod.metadata.uid);
          if (!rt) {
            if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') continue;
            if (pod.metadata.deletionTimestamp) {
              // Never started here: just let it go.
              await kube
                .request('DELETE', `/api/v1/namespaces/${pod.metadata.namespace}/pods/${pod.metadata.name}`, {
                  gracePeriodSeconds: 0,
                  preconditions: { uid: pod.metadata.uid },
                })
                .catch(() => undefined);
              continue;
            }
            rt = new PodRuntime(ctx, pod);
            pods.set(pod.metadata.uid, rt);
            log('pod added', { pod: rt.key, uid: rt.uid });
          }
          try {
            await rt.sync(pod, records);
          } catch (e) {
            log('pod sync failed', { pod: rt.key, error: (e as Error).stack });
          }
        }
        for (const [uid, rt] of pods) {
          if (rt.done) {
            pods.delete(uid);
            continue;
          }
          if (!seen.has(uid) && !rt.terminating) {
            // Gone from the API (force-deleted): stop at once.
            log('pod gone from the API server; killing', { pod: rt.key });
            rt.terminating = rt.terminate(0, false);
          }
        }
        await Promise.all([...pods.values()].map((rt) => rt.reportStatus()));
        await provisioner.sync();
        if (Date.now() - lastLease > 10_000) {
          await renewLease();
          lastLease = Date.now();
        }
        if (Date.now() - lastNodeStatus > 60_000) {
          await kube.mergePatch(`/api/v1/nodes/${nodeName}/status`, { status: nodeStatus() });
          lastNodeStatus = Date.now();
        }
      } catch (e) {
        if (!isNotFound(e)) log('sync failed', { error: (e as Error).message });
      }
      await sleep(Math.max(0, 1_000 - (Date.now() - started)));
    }
  };
  void loop();
  log('running', { node: nodeName, runDir });
  return done;
}

async function main(argv: string[]): Promise<number> {
  const { cmd, opts } = parseArgs(argv);
  switch (cmd) {
    case 'run':
      return run(opts);
    case 'cleanup': {
      const holder = fs.existsSync(LOCK_FILE) ? Number(fs.readFileSync(LOCK_FILE, 'utf8').trim()) : 0;
      if (holder && alive(holder)) {
        process.stderr.write(`a node agent (pid ${holder}) is running: stop it instead\n`);
        return 1;
      }
      cleanupNetwork();
      fs.rmSync(LOCK_FILE, { force: true });
      if (opts['run-dir']) removeMountPoints(path.resolve(opts['run-dir']));
      return 0;
    }
    default:
      process.stderr.write(
        'usage: main.js run --kubeconfig FILE --run-dir DIR [--node-name NAME] [--owner-pid PID] | cleanup [--run-dir DIR]\n',
      );
      return cmd === 'help' ? 0 : 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    log('fatal', { error: (err as Error).stack ?? String(err) });
    try {
      if (fs.existsSync(LOCK_FILE) && Number(fs.readFileSync(LOCK_FILE, 'utf8').trim()) === process.pid) {
        cleanupNetwork();
        releaseMachineLock();
      }
    } catch {
      /* best effort */
    }
    process.exit(1);
  },
);
