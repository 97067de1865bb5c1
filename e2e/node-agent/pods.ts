// The pod runtime of the node agent: what a kubelet and a container runtime do for our own images,
// with local processes.
//
// Each pod gets a network namespace (net.ts) and a directory <run>/pods/<ns>_<name>_<uid>/ holding
// its volumes. A container runs as
//
//   ip netns exec rn-<n> unshare --uts -- /bin/sh <pod dir>/start-<container>.sh <command...>
//
// `ip netns exec` gives the process its own mount namespace (it bind-mounts the pod's hosts file
// over /etc/hosts there); the start script then bind-mounts each volume at its container path
// (/etc/runnel, /var/lib/runnel, /var/run/secrets/kubernetes.io/serviceaccount, /tmp, ...), sets
// the hostname to the pod's, and execs the command with the repository as working directory. So
// the processes see the paths the manifests name, and no path is rewritten. Mount points that do
// not exist on the host are created (empty directories) and removed again at cleanup.
//
// Images: `runnel/broker:*` runs `node <repo>/dist/broker/main.js <args>`, `runnel/operator:*`
// `node <repo>/dist/operator/main.js <args>` (a registry prefix is allowed); a container `command`
// replaces that entry point as in Kubernetes (`node` is this Node.js). Any other image is reported
// as ErrImagePull. securityContext (user, read-only root) is not applied: processes run as root.
//
// Init containers run the same way (same code: images, env, volumes, logs), one at a time, in
// order, each to completion before the next and before the containers; a failed one is retried
// with the containers' back-off, or fails the pod under restartPolicy Never.

import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { killGroup } from '../control-plane/processes.js';
import type {
  AuthenticationV1TokenRequest,
  V1ConfigMapProjection,
  V1ConfigMapVolumeSource,
  V1Container,
  V1ContainerStateTerminated,
  V1ContainerStatus,
  V1DownwardAPIVolumeFile,
  V1PodCondition,
  V1PodStatus,
  V1Probe,
  V1SecretProjection,
  V1SecretVolumeSource,
  V1ServiceAccountTokenProjection,
} from '@kubernetes/client-node';
import {
  isNotFound,
  type ConfigMap,
  type Kube,
  type PersistentVolume,
  type PersistentVolumeClaim,
  type Pod,
  type Secret,
  type Wire,
} from './kube.js';
import {
  BRIDGE_IP,
  createNetns,
  deleteNetns,
  NETNS_PREFIX,
  podHostsFile,
  writeInPlace,
  type DnsRecord,
} from './net.js';

export interface AgentContext {
  kube: Kube;
  nodeName: string;
  repo: string;
  runDir: string;
  log: (msg: string, fields?: Record<string, unknown>) => void;
  /** KUBERNETES_SERVICE_HOST / PORT for pods. */
  kubernetesService: () => { host: string; port: string } | undefined;
  /** Mount points the agent created on the host (removed at cleanup). */
  createdMountPoints: Set<string>;
}

interface Mount {
  src: string;
  dst: string;
  ro: boolean;
}

type Container = Wire<V1Container>;
type Probe = Wire<V1Probe>;
type Terminated = Wire<V1ContainerStateTerminated>;
/** Where a ConfigMap or Secret volume (or projection) takes its files from. */
type ObjectSource =
  Wire<V1ConfigMapVolumeSource> | Wire<V1ConfigMapProjection> | Wire<V1SecretVolumeSource> | Wire<V1SecretProjection>;

interface ContainerRt {
  name: string;
  spec: Container;
  /** An init container: runs to completion, in order, before the containers start. */
  init: boolean;
  child?: ChildProcess;
  pid?: number;
  state: 'waiting' | 'running' | 'terminated';
  reason?: string;
  message?: string;
  startedAt?: string;
  finishedAt?: string;
  exitCode?: number;
  everStarted: boolean;
  restartCount: number;
  lastTerminated?: Terminated;
  ready: boolean;
  nextStartAt: number;
  /** No further starts (restart policy said so). */
  final: boolean;
  probeTimers: NodeJS.Timeout[];
  readyStreak: { ok: number; bad: number };
  liveBad: number;
  exited?: Promise<void>;
}

const IMAGE_ENTRY: [RegExp, string][] = [
  [/^(?:[^/]+\/)*runnel\/broker(?::[^/]*)?(?:@.*)?$/, 'dist/broker/main.js'],
  [/^(?:[^/]+\/)*runnel\/operator(?::[^/]*)?(?:@.*)?$/, 'dist/operator/main.js'],
];

const now = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Kubernetes $(VAR) expansion: defined names are replaced, `$$` escapes, unknown names stay. */
export function expand(s: string, vars: Map<string, string>): string {
  return s.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (m, name: string | undefined) => {
    if (m === '$$') return '$';
    return name !== undefined && vars.has(name) ? vars.get(name)! : m;
  });
}

const usedIps = new Set<string>();
let nextHost = 2;
function allocateIp(): { ip: string; index: number } {
  for (let tries = 0; tries < 32000; tries++) {
    const n = nextHost;
    nextHost = nextHost >= 32766 ? 2 : nextHost + 1;
    const ip = `10.77.${n >> 8}.${n & 255}`;
    if ((n & 255) === 0 || (n & 255) === 255 || usedIps.has(ip)) continue;
    usedIps.add(ip);
    return { ip, index: n };
  }
  throw new Error('no free pod address');
}

export class PodRuntime {
  readonly uid: string;
  readonly key: string;
  pod: Pod;
  ip?: string;
  netns?: string;
  readonly dir: string;
  startTime?: string;
  initContainers: ContainerRt[] = [];
  containers: ContainerRt[] = [];
  private volumes = new Map<string, string>();
  private volumesReady = false;
  setupError?: { reason: string; message: string };
  terminating?: Promise<void>;
  done = false;
  private lastStatus = '';
  private transitions = new Map<string, { status: string; time: string }>();
  private settingUp = false;

  constructor(
    private readonly ctx: AgentContext,
    pod: Pod,
  ) {
    this.pod = pod;
    this.uid = pod.metadata.uid;
    this.key = `${pod.metadata.namespace}/${pod.metadata.name}`;
    this.dir = path.join(ctx.runDir, 'pods', `${pod.metadata.namespace}_${pod.metadata.name}_${this.uid.slice(0, 8)}`);
    const initializing = (pod.spec.initContainers ?? []).length > 0;
    const rt = (c: Container, init: boolean): ContainerRt => ({
      name: c.name,
      spec: c,
      init,
      state: 'waiting',
      reason: initializing ? 'PodInitializing' : 'ContainerCreating',
      everStarted: false,
      restartCount: 0,
      ready: false,
      nextStartAt: 0,
      final: false,
      probeTimers: [],
      readyStreak: { ok: 0, bad: 0 },
      liveBad: 0,
    });
    this.initContainers = (pod.spec.initContainers ?? []).map((c) => rt(c, true));
    this.containers = pod.spec.containers.map((c) => rt(c, false));
  }

  private get allContainers(): ContainerRt[] {
    return [...this.initContainers, ...this.containers];
  }

  /** Every init container has completed successfully. */
  private get initialized(): boolean {
    return this.initContainers.every(succeeded);
  }

  private log(msg: string, fields: Record<string, unknown> = {}): void {
    this.ctx.log(msg, { pod: this.key, uid: this.uid, ...fields });
  }

  private logFile(c: ContainerRt): string {
    return path.join(
      this.ctx.runDir,
      'logs',
      'pods',
      `${this.pod.metadata.namespace}_${this.pod.metadata.name}_${this.uid.slice(0, 8)}_${c.name}.log`,
    );
  }

  /** Called on every pass with the pod as the API server has it now. */
  async sync(pod: Pod, records: DnsRecord[]): Promise<void> {
    this.pod = pod;
    if (this.terminating || this.done) return;
    if (pod.metadata.deletionTimestamp) {
      const grace = pod.metadata.deletionGracePeriodSeconds ?? pod.spec.terminationGracePeriodSeconds ?? 30;
      this.terminating = this.terminate(grace, true);
      return;
    }
    if (this.settingUp) return;
    this.settingUp = true;
    try {
      if (!this.netns) {
        const { ip, index } = allocateIp();
        this.ip = ip;
        this.netns = `${NETNS_PREFIX}${index}`;
        this.startTime = now();
        fs.mkdirSync(this.dir, { recursive: true });
        createNetns(this.netns, ip, podHostsFile(pod, ip, records));
        this.log('network ready', { ip, netns: this.netns });
      } else {
        writeInPlace(`/etc/netns/${this.netns}/hosts`, podHostsFile(pod, this.ip!, records));
      }
      if (!this.volumesReady) {
        try {
          await this.prepareVolumes();
          this.volumesReady = true;
          this.setupError = undefined;
        } catch (e) {
          this.setupError = { reason: 'ContainerCreating', message: (e as Error).message };
          return;
        }
      }
      // Init containers one at a time, in order, each to completion; then the containers.
      const next = this.initContainers.find((c) => !succeeded(c));
      for (const c of next ? [next] : this.containers) {
        if (!c.child && !c.final && Date.now() >= c.nextStartAt) await this.startContainer(c);
      }
    } finally {
      this.settingUp = false;
    }
  }

  // ----------------------------------------------------------------------------------------------
  // Volumes
  // ----------------------------------------------------------------------------------------------

  private async prepareVolumes(): Promise<void> {
    const ns = this.pod.metadata.namespace;
    const k = this.ctx.kube;
    for (const v of this.pod.spec.volumes ?? []) {
      const dir = path.join(this.dir, 'volumes', v.name);
      if (v.emptyDir) {
        fs.mkdirSync(dir, { recursive: true });
        this.volumes.set(v.name, dir);
      } else if (v.configMap || v.secret) {
        const files = await this.objectFiles(v.configMap ? 'configmaps' : 'secrets', (v.configMap ?? v.secret)!);
        writeFiles(dir, files);
        this.volumes.set(v.name, dir);
      } else if (v.projected) {
        const files = new Map<string, Buffer>();
        for (const src of v.projected.sources ?? []) {
          if (src.serviceAccountToken) {
            const token = await this.serviceAccountToken(src.serviceAccountToken);
            files.set(src.serviceAccountToken.path, Buffer.from(token));
          } else if (src.configMap || src.secret) {
            for (const [f, b] of await this.objectFiles(
              src.configMap ? 'configmaps' : 'secrets',
              (src.configMap ?? src.secret)!,
            ))
              files.set(f, b);
          } else if (src.downwardAPI) {
            for (const [f, b] of this.downwardFiles(src.downwardAPI.items)) files.set(f, b);
          }
        }
        writeFiles(dir, files);
        this.volumes.set(v.name, dir);
      } else if (v.downwardAPI) {
        writeFiles(dir, this.downwardFiles(v.downwardAPI.items));
        this.volumes.set(v.name, dir);
      } else if (v.persistentVolumeClaim) {
        const claim = v.persistentVolumeClaim.claimName;
        const pvc = await k.getOr<PersistentVolumeClaim>(`/api/v1/namespaces/${ns}/persistentvolumeclaims/${claim}`);
        if (!pvc) throw new Error(`persistentvolumeclaim "${claim}" not found`);
        if (pvc.status?.phase !== 'Bound' || !pvc.spec.volumeName)
          throw new Error(`persistentvolumeclaim "${claim}" is not bound yet`);
        const pv = await k.get<PersistentVolume>(`/api/v1/persistentvolumes/${pvc.spec.volumeName}`);
        const p = pv.spec.hostPath?.path ?? pv.spec.local?.path;
        if (!p) throw new Error(`persistentvolume ${pv.metadata.name} is neither hostPath nor local`);
        fs.mkdirSync(p, { recursive: true });
        this.volumes.set(v.name, p);
      } else if (v.hostPath) {
        this.volumes.set(v.name, v.hostPath.path);
      } else {
        throw new Error(`volume "${v.name}": this volume type is not supported by the e2e node agent`);
      }
    }
  }

  private async objectFiles(kind: 'configmaps' | 'secrets', src: ObjectSource): Promise<Map<string, Buffer>> {
    const ns = this.pod.metadata.namespace;
    const name = ('secretName' in src ? src.secretName : undefined) ?? ('name' in src ? src.name : undefined);
    const obj = await this.ctx.kube.getOr<ConfigMap | Secret>(`/api/v1/namespaces/${ns}/${kind}/${name}`);
    const files = new Map<string, Buffer>();
    if (!obj) {
      if (src.optional) return files;
      throw new Error(`${kind === 'configmaps' ? 'configmap' : 'secret'} "${name}" not found`);
    }
    const all = new Map<string, Buffer>();
    for (const [key, val] of Object.entries<string>(obj.data ?? {}))
      all.set(key, kind === 'secrets' ? Buffer.from(val, 'base64') : Buffer.from(val));
    for (const [key, val] of Object.entries<string>(('binaryData' in obj ? obj.binaryData : undefined) ?? {}))
      all.set(key, Buffer.from(val, 'base64'));
    if (src.items?.length) {
      for (const it of src.items) {
        const b = all.get(it.key);
        if (b) files.set(it.path, b);
        else if (!src.optional) throw new Error(`key "${it.key}" not found in ${kind} ${name}`);
      }
    } else {
      for (const [key, b] of all) files.set(key, b);
    }
    return files;
  }

  private downwardFiles(items: Wire<V1DownwardAPIVolumeFile>[] = []): Map<string, Buffer> {
    const files = new Map<string, Buffer>();
    for (const it of items) if (it.fieldRef) files.set(it.path, Buffer.from(this.fieldRef(it.fieldRef.fieldPath)));
    return files;
  }

  private async serviceAccountToken(src: Wire<V1ServiceAccountTokenProjection>): Promise<string> {
    const ns = this.pod.metadata.namespace;
    const sa = this.pod.spec.serviceAccountName ?? 'default';
    const r = await this.ctx.kube.request<Wire<AuthenticationV1TokenRequest>>(
      'POST',
      `/api/v1/namespaces/${ns}/serviceaccounts/${sa}/token`,
      {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        spec: {
          ...(src.audience ? { audiences: [src.audience] } : {}),
          expirationSeconds: src.expirationSeconds ?? 3607,
          boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: this.pod.metadata.name, uid: this.uid },
        },
      },
    );
    if (!r.status?.token) throw new Error(`TokenRequest for serviceaccount ${ns}/${sa} returned no token`);
    return r.status.token;
  }

  // ----------------------------------------------------------------------------------------------
  // Env, command, mounts
  // ----------------------------------------------------------------------------------------------

  fieldRef(fieldPath: string): string {
    const p = this.pod;
    const m = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(fieldPath);
    if (m) return p.metadata[m[1] as 'labels' | 'annotations']?.[m[2]] ?? '';
    switch (fieldPath) {
      case 'metadata.name':
        return p.metadata.name;
      case 'metadata.namespace':
        return p.metadata.namespace;
      case 'metadata.uid':
        return p.metadata.uid;
      case 'spec.nodeName':
        return p.spec.nodeName ?? this.ctx.nodeName;
      case 'spec.serviceAccountName':
        return p.spec.serviceAccountName ?? '';
      case 'status.podIP':
      case 'status.podIPs':
        return this.ip ?? '';
      case 'status.hostIP':
      case 'status.hostIPs':
        return BRIDGE_IP;
      case 'metadata.labels':
        return Object.entries(p.metadata.labels ?? {})
          .map(([k, v]) => `${k}="${v}"`)
          .join('\n');
      case 'metadata.annotations':
        return Object.entries(p.metadata.annotations ?? {})
          .map(([k, v]) => `${k}="${v}"`)
          .join('\n');
      default:
        throw new Error(`unsupported fieldRef ${fieldPath}`);
    }
  }

  private async resolveEnv(c: Container): Promise<Map<string, string>> {
    const ns = this.pod.metadata.namespace;
    const k = this.ctx.kube;
    const vars = new Map<string, string>();
    const svc = this.ctx.kubernetesService();
    if (svc) {
      vars.set('KUBERNETES_SERVICE_HOST', svc.host);
      vars.set('KUBERNETES_SERVICE_PORT', svc.port);
      vars.set('KUBERNETES_SERVICE_PORT_HTTPS', svc.port);
      vars.set('KUBERNETES_PORT', `tcp://${svc.host}:${svc.port}`);
    }
    const objCache = new Map<string, ConfigMap | Secret | undefined>();
    const getObj = async (kind: string, name: string) => {
      const key = `${kind}/${name}`;
      if (!objCache.has(key))
        objCache.set(key, await k.getOr<ConfigMap | Secret>(`/api/v1/namespaces/${ns}/${kind}/${name}`));
      return objCache.get(key);
    };
    const decode = (kind: string, v: string) => (kind === 'secrets' ? Buffer.from(v, 'base64').toString('utf8') : v);
    for (const from of c.envFrom ?? []) {
      const kind = from.configMapRef ? 'configmaps' : 'secrets';
      const ref = from.configMapRef ?? from.secretRef ?? {};
      const obj = await getObj(kind, ref.name ?? '');
      if (!obj) {
        if (ref.optional) continue;
        throw new Error(`${kind === 'configmaps' ? 'configmap' : 'secret'} "${ref.name}" not found`);
      }
      for (const [key, v] of Object.entries<string>(obj.data ?? {}))
        vars.set(`${from.prefix ?? ''}${key}`, decode(kind, v));
    }
    for (const e of c.env ?? []) {
      if (e.value !== undefined) {
        vars.set(e.name, expand(e.value, vars));
      } else if (e.valueFrom?.fieldRef) {
        vars.set(e.name, this.fieldRef(e.valueFrom.fieldRef.fieldPath));
      } else if (e.valueFrom?.configMapKeyRef || e.valueFrom?.secretKeyRef) {
        const kind = e.valueFrom.configMapKeyRef ? 'configmaps' : 'secrets';
        const ref = (e.valueFrom.configMapKeyRef ?? e.valueFrom.secretKeyRef)!;
        const obj = await getObj(kind, ref.name ?? '');
        const v = obj?.data?.[ref.key];
        if (v === undefined) {
          if (ref.optional) continue;
          throw new Error(
            obj
              ? `couldn't find key ${ref.key} in ${kind === 'configmaps' ? 'ConfigMap' : 'Secret'} ${ns}/${ref.name}`
              : `${kind === 'configmaps' ? 'configmap' : 'secret'} "${ref.name}" not found`,
          );
        }
        vars.set(e.name, decode(kind, v));
      } else if (e.valueFrom?.resourceFieldRef) {
        const r = e.valueFrom.resourceFieldRef;
        const [kind, res] = r.resource.split('.') as ['limits' | 'requests', string];
        vars.set(e.name, String(c.resources?.[kind]?.[res] ?? (res === 'cpu' ? '2' : String(8 << 30))));
      } else {
        vars.set(e.name, '');
      }
    }
    return vars;
  }

  private mounts(c: Container): Mount[] {
    const out: Mount[] = [];
    for (const m of c.volumeMounts ?? []) {
      const src = this.volumes.get(m.name);
      if (!src) throw new Error(`volumeMount "${m.name}" names no volume of the pod`);
      const s = m.subPath ? path.join(src, m.subPath) : src;
      if (m.subPath && !fs.existsSync(s)) fs.mkdirSync(s, { recursive: true });
      // A mount over a directory that holds the repository or the run dir (an emptyDir at /tmp
      // when the checkout lives in /tmp) would hide the program and the other volumes' sources
      // from the pod: leave that path as the host's.
      if ([this.ctx.repo, this.ctx.runDir].some((needed) => isWithin(needed, m.mountPath))) {
        this.log('volume not mounted: it would hide the repository or the run dir', {
          volume: m.name,
          mountPath: m.mountPath,
        });
        continue;
      }
      out.push({ src: s, dst: m.mountPath, ro: !!m.readOnly });
    }
    return out.sort((a, b) => a.dst.length - b.dst.length);
  }

  /** Creates `dst` on the host if missing and remembers the first directory it created. */
  private ensureMountPoint(dst: string, isFile: boolean): void {
    const target = isFile ? path.dirname(dst) : dst;
    let first: string | undefined;
    let p = target;
    while (!fs.existsSync(p)) {
      first = p;
      p = path.dirname(p);
    }
    if (first) {
      fs.mkdirSync(target, { recursive: true });
      this.ctx.createdMountPoints.add(first);
      fs.appendFileSync(path.join(this.ctx.runDir, 'node', 'mountpoints'), first + '\n');
    }
    if (isFile && !fs.existsSync(dst)) {
      fs.writeFileSync(dst, '');
      this.ctx.createdMountPoints.add(dst);
      fs.appendFileSync(path.join(this.ctx.runDir, 'node', 'mountpoints'), dst + '\n');
    }
  }

  // ----------------------------------------------------------------------------------------------
  // Containers
  // ----------------------------------------------------------------------------------------------

  private waiting(c: ContainerRt, reason: string, message: string, retryMs: number): void {
    c.state = 'waiting';
    c.reason = reason;
    c.message = message;
    c.nextStartAt = Date.now() + retryMs;
  }

  private async startContainer(c: ContainerRt): Promise<void> {
    const spec = c.spec;
    const entry = IMAGE_ENTRY.find(([re]) => re.test(spec.image ?? ''));
    if (!entry) {
      const msg = `image "${spec.image}" cannot be run by the e2e node agent: only runnel/broker:* and runnel/operator:* (run from this repository's dist/) are available`;
      if (c.reason !== 'ErrImagePull') this.log('image not available', { container: c.name, image: spec.image });
      this.waiting(c, 'ErrImagePull', msg, 10_000);
      return;
    }
    let env: Map<string, string>;
    let mounts: Mount[];
    try {
      env = await this.resolveEnv(spec);
      mounts = this.mounts(spec);
    } catch (e) {
      this.waiting(c, 'CreateContainerConfigError', (e as Error).message, 2_000);
      return;
    }
    const entryCmd = ['node', path.join(this.ctx.repo, entry[1])];
    const command = spec.command?.length ? spec.command.map((s) => expand(s, env)) : entryCmd;
    const args = (spec.args ?? []).map((s) => expand(s, env));
    const argv = [...command, ...args];
    if (argv[0] === 'node') argv[0] = process.execPath;

    const script = ['set -e', `hostname ${shq((this.pod.spec.hostname ?? this.pod.metadata.name).slice(0, 63))}`];
    for (const m of mounts) {
      const isFile = fs.statSync(m.src).isFile();
      this.ensureMountPoint(m.dst, isFile);
      script.push(isFile ? `[ -e ${shq(m.dst)} ] || : > ${shq(m.dst)}` : `mkdir -p ${shq(m.dst)}`);
      script.push(`mount --bind ${shq(m.src)} ${shq(m.dst)}`);
      if (m.ro) script.push(`mount -o remount,bind,ro ${shq(m.dst)}`);
    }
    script.push(
      `cd ${shq(spec.workingDir && fs.existsSync(spec.workingDir) ? spec.workingDir : this.ctx.repo)}`,
      'exec "$@"',
      '',
    );
    const scriptFile = path.join(this.dir, `start-${c.name}.sh`);
    fs.writeFileSync(scriptFile, script.join('\n'));

    const procEnv: NodeJS.ProcessEnv = {
      PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
      HOSTNAME: this.pod.metadata.name,
      HOME: '/root',
      NO_PROXY: '127.0.0.1,localhost,10.77.0.0/16,.svc,.cluster.local',
      ...Object.fromEntries(env),
    };
    const logFile = this.logFile(c);
    fs.mkdirSync(path.dirname(logFile), { recursive: true });
    const fd = fs.openSync(logFile, 'a');
    fs.writeSync(fd, `--- ${now()} start (restart ${c.restartCount}): ${argv.join(' ')}\n`);
    const child = spawn(
      'ip',
      ['netns', 'exec', this.netns!, 'unshare', '--uts', '--', '/bin/sh', scriptFile, ...argv],
      {
        detached: true,
        stdio: ['ignore', fd, fd],
        env: procEnv,
      },
    );
    fs.closeSync(fd);
    c.child = child;
    c.pid = child.pid;
    c.state = 'running';
    c.reason = undefined;
    c.message = undefined;
    c.startedAt = now();
    c.everStarted = true;
    c.ready = false;
    c.readyStreak = { ok: 0, bad: 0 };
    c.liveBad = 0;
    this.log(c.init ? 'init container started' : 'container started', { container: c.name, pid: child.pid, argv });
    c.exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        this.onExit(c, code, signal);
        resolve();
      });
      child.once('error', (e) => {
        this.log('container failed to start', { container: c.name, error: e.message });
        this.onExit(c, 128, null);
        resolve();
      });
    });
    if (!c.init) this.startProbes(c);
  }

  private onExit(c: ContainerRt, code: number | null, signal: NodeJS.Signals | null): void {
    if (c.child === undefined) return;
    for (const t of c.probeTimers) {
      clearInterval(t);
      clearTimeout(t);
    }
    c.probeTimers = [];
    c.child = undefined;
    const exitCode = code ?? 128 + (signal ? (os.constants.signals[signal] ?? 9) : 0);
    c.exitCode = exitCode;
    c.finishedAt = now();
    c.ready = false;
    const terminated: Terminated = {
      exitCode,
      reason: exitCode === 0 ? 'Completed' : 'Error',
      startedAt: c.startedAt,
      finishedAt: c.finishedAt,
      containerID: `runnel://${c.pid}`,
    };
    this.log('container exited', { container: c.name, exitCode, signal });
    const policy = this.pod.spec.restartPolicy ?? 'Always';
    // An init container that succeeded is done; one that failed is retried unless policy is Never
    // (then the pod fails).
    const restart =
      !this.terminating &&
      (c.init
        ? exitCode !== 0 && policy !== 'Never'
        : policy === 'Always' || (policy === 'OnFailure' && exitCode !== 0));
    if (restart) {
      c.lastTerminated = terminated;
      c.restartCount++;
      const backoff = Math.min(1_000 * 2 ** Math.min(c.restartCount - 1, 5), 30_000);
      this.waiting(
        c,
        'CrashLoopBackOff',
        `back-off ${Math.round(backoff / 1000)}s restarting failed container=${c.name} pod=${this.pod.metadata.name}`,
        backoff,
      );
    } else {
      c.state = 'terminated';
      c.reason = terminated.reason;
      c.final = true;
    }
  }

  private startProbes(c: ContainerRt): void {
    const spec = c.spec;
    const rp = spec.readinessProbe;
    if (!rp) {
      c.ready = true;
    } else {
      const period = (rp.periodSeconds ?? 10) * 1000;
      const run = async () => {
        if (!c.child) return;
        const ok = await this.probe(c, rp);
        if (!c.child) return;
        if (ok) {
          c.readyStreak.ok++;
          c.readyStreak.bad = 0;
          if (c.readyStreak.ok >= (rp.successThreshold ?? 1)) c.ready = true;
        } else {
          c.readyStreak.bad++;
          c.readyStreak.ok = 0;
          if (c.readyStreak.bad >= (rp.failureThreshold ?? 3) || !c.ready) c.ready = false;
        }
      };
      // Probe quickly at first (a kubelet probes at periodSeconds; tests want Ready soon).
      const first = setTimeout(
        () => {
          void run();
          c.probeTimers.push(setInterval(() => void run(), Math.min(period, 2_000)));
        },
        (rp.initialDelaySeconds ?? 0) * 1000 + 300,
      );
      c.probeTimers.push(first);
    }
    const lp = spec.livenessProbe;
    if (lp) {
      const period = (lp.periodSeconds ?? 10) * 1000;
      const check = async () => {
        if (!c.child) return;
        const ok = await this.probe(c, lp);
        c.liveBad = ok ? 0 : c.liveBad + 1;
        if (c.liveBad >= (lp.failureThreshold ?? 3) && c.child) {
          this.log('liveness probe failed; restarting', { container: c.name });
          c.liveBad = 0;
          void this.stopContainer(c, this.pod.spec.terminationGracePeriodSeconds ?? 30);
        }
      };
      const t = setTimeout(
        () => {
          // Fire and forget, like the readiness probe: probe() turns every failure into `false`.
          c.probeTimers.push(setInterval(() => void check(), period));
        },
        (lp.initialDelaySeconds ?? 0) * 1000,
      );
      c.probeTimers.push(t);
    }
  }

  private portOf(c: ContainerRt, port: number | string): number {
    if (typeof port === 'number' || /^\d+$/.test(port)) return Number(port);
    const p = (c.spec.ports ?? []).find((x) => x.name === port);
    if (!p) throw new Error(`no container port named ${port}`);
    return p.containerPort;
  }

  private async probe(c: ContainerRt, p: Probe): Promise<boolean> {
    const timeout = (p.timeoutSeconds ?? 1) * 1000;
    try {
      const httpGet = p.httpGet;
      if (httpGet) {
        const port = this.portOf(c, httpGet.port);
        const host = httpGet.host ?? this.ip!;
        return await new Promise<boolean>((resolve) => {
          const req = http.get({ host, port, path: httpGet.path ?? '/', timeout, agent: false }, (res) => {
            res.resume();
            resolve((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 400);
          });
          req.on('timeout', () => req.destroy());
          req.on('error', () => resolve(false));
        });
      }
      if (p.tcpSocket) {
        const tcpSocket = p.tcpSocket;
        const port = this.portOf(c, tcpSocket.port);
        return await new Promise<boolean>((resolve) => {
          const s = net.connect({ host: tcpSocket.host ?? this.ip!, port, timeout });
          s.once('connect', () => (s.destroy(), resolve(true)));
          s.once('timeout', () => (s.destroy(), resolve(false)));
          s.once('error', () => resolve(false));
        });
      }
      return true; // exec/grpc probes: not supported, taken as success
    } catch {
      return false;
    }
  }

  /** SIGTERM to the container's process group, SIGKILL after `graceSeconds`. */
  private async stopContainer(c: ContainerRt, graceSeconds: number): Promise<void> {
    const child = c.child;
    if (!child || !c.pid) return;
    const exited = c.exited!;
    killGroup(c.pid, 'SIGTERM');
    const t = await Promise.race([exited.then(() => true), sleep(graceSeconds * 1000).then(() => false)]);
    if (!t) {
      this.log('grace period over; SIGKILL', { container: c.name });
      killGroup(c.pid, 'SIGKILL');
      await Promise.race([exited, sleep(5_000)]);
    }
    killGroup(c.pid, 'SIGKILL'); // anything left in the group
  }

  /** Stops every container, tears down the network, and (if asked) deletes the pod object. */
  async terminate(graceSeconds: number, deleteObject: boolean): Promise<void> {
    this.log('terminating', { graceSeconds });
    const all = this.allContainers;
    for (const c of all) c.final = true;
    await Promise.all(all.map((c) => this.stopContainer(c, graceSeconds)));
    for (const c of all) {
      if (c.state !== 'terminated') {
        c.state = 'terminated';
        c.reason = c.reason ?? 'Completed';
      }
    }
    this.teardown();
    if (deleteObject) {
      const { namespace, name } = this.pod.metadata;
      try {
        await this.ctx.kube.request('DELETE', `/api/v1/namespaces/${namespace}/pods/${name}`, {
          apiVersion: 'v1',
          kind: 'DeleteOptions',
          gracePeriodSeconds: 0,
          preconditions: { uid: this.uid },
        });
        this.log('pod deleted');
      } catch (e) {
        if (!isNotFound(e) && !/409/.test(String((e as Error).message)))
          this.log('delete failed', { error: (e as Error).message });
      }
    }
    this.done = true;
  }

  teardown(): void {
    if (this.netns) deleteNetns(this.netns);
    if (this.ip) usedIps.delete(this.ip);
  }

  /** Kills everything at once (agent shutdown). */
  async kill(graceSeconds: number): Promise<void> {
    await (this.terminating ??= this.terminate(graceSeconds, false));
  }

  // ----------------------------------------------------------------------------------------------
  // Status
  // ----------------------------------------------------------------------------------------------

  private condition(type: string, ok: boolean, t: string, reason?: string): Wire<V1PodCondition> {
    const status = ok ? 'True' : 'False';
    const prev = this.transitions.get(type);
    if (!prev || prev.status !== status) this.transitions.set(type, { status, time: t });
    return { type, status, lastTransitionTime: this.transitions.get(type)!.time, ...(reason && !ok ? { reason } : {}) };
  }

  private containerStatus(c: ContainerRt, t: string): Wire<V1ContainerStatus> {
    const setup = this.setupError && !c.everStarted ? this.setupError : undefined;
    const waiting = { reason: setup?.reason ?? c.reason ?? 'ContainerCreating', message: setup?.message ?? c.message };
    const state =
      c.state === 'running'
        ? { running: { startedAt: c.startedAt } }
        : c.state === 'terminated'
          ? {
              terminated: {
                exitCode: c.exitCode ?? 0,
                reason: c.reason ?? 'Completed',
                startedAt: c.startedAt,
                finishedAt: c.finishedAt ?? t,
              },
            }
          : { waiting: waiting.message ? waiting : { reason: waiting.reason } };
    return {
      name: c.name,
      image: c.spec.image ?? '',
      imageID: '',
      ...(c.pid ? { containerID: `runnel://${c.pid}` } : {}),
      started: c.state === 'running',
      // An init container is ready once it has succeeded (as a kubelet reports it).
      ready: c.init ? succeeded(c) : c.state === 'running' && c.ready,
      restartCount: c.restartCount,
      state,
      lastState: c.lastTerminated ? { terminated: c.lastTerminated } : {},
    };
  }

  status(): Wire<V1PodStatus> {
    const t = now();
    const statuses = this.containers.map((c) => this.containerStatus(c, t));
    const initialized = this.initialized;
    const allReady = initialized && statuses.length > 0 && statuses.every((s) => s.ready);
    const policy = this.pod.spec.restartPolicy ?? 'Always';
    let phase = 'Pending';
    if (this.initContainers.some((c) => c.final && c.state === 'terminated' && c.exitCode !== 0)) {
      phase = 'Failed';
    } else if (!initialized) {
      phase = 'Pending';
    } else if (this.containers.every((c) => c.final && c.state === 'terminated') && policy !== 'Always') {
      phase = this.containers.every((c) => c.exitCode === 0) ? 'Succeeded' : 'Failed';
    } else if (this.containers.some((c) => c.everStarted)) {
      phase = 'Running';
    }
    return {
      phase,
      hostIP: BRIDGE_IP,
      hostIPs: [{ ip: BRIDGE_IP }],
      ...(this.ip ? { podIP: this.ip, podIPs: [{ ip: this.ip }] } : {}),
      ...(this.startTime ? { startTime: this.startTime } : {}),
      conditions: [
        this.condition('PodReadyToStartContainers', !!this.netns, t),
        this.condition('Initialized', initialized, t, 'ContainersNotInitialized'),
        this.condition('Ready', allReady, t, 'ContainersNotReady'),
        this.condition('ContainersReady', allReady, t, 'ContainersNotReady'),
        this.condition('PodScheduled', true, t),
      ],
      ...(this.initContainers.length
        ? { initContainerStatuses: this.initContainers.map((c) => this.containerStatus(c, t)) }
        : {}),
      containerStatuses: statuses,
    };
  }

  /** Patches the pod's status when it changed. */
  async reportStatus(): Promise<void> {
    if (this.done) return;
    const status = this.status();
    const text = JSON.stringify(status);
    if (text === this.lastStatus) return;
    const { namespace, name } = this.pod.metadata;
    try {
      await this.ctx.kube.mergePatch(`/api/v1/namespaces/${namespace}/pods/${name}/status`, {
        metadata: { uid: this.uid },
        status,
      });
      this.lastStatus = text;
    } catch (e) {
      if (!isNotFound(e)) this.log('status update failed', { error: (e as Error).message });
    }
  }
}

const succeeded = (c: ContainerRt) => c.state === 'terminated' && c.exitCode === 0;

function writeFiles(dir: string, files: Map<string, Buffer>): void {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  for (const [rel, b] of files) {
    const f = path.join(dir, rel);
    fs.mkdirSync(path.dirname(f), { recursive: true });
    fs.writeFileSync(f, b);
  }
}

/** Whether `p` is `dir` or lies below it. */
function isWithin(p: string, dir: string): boolean {
  const rel = path.relative(dir, p);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}
