// Pod networking for the node agent, with the kernel's own tools (run as root):
//
// - a bridge (default `runnel0`, 10.77.0.1/16) that the harness owns; host routes to pods and to
//   service addresses (10.77.128.0/17) go through it, so nothing leaves the machine;
// - per pod a network namespace `rn-<n>` with a veth into the bridge, an address in 10.77.0.0/17
//   and a default route via the bridge address (so ClusterIPs go through the host's NAT);
// - per pod a hosts file /etc/netns/rn-<n>/hosts, which `ip netns exec` bind-mounts over
//   /etc/hosts for the pod's processes: the pod's own names, the pods behind headless Services and
//   every Service's ClusterIP, with the short forms of the pod's namespace (what CoreDNS answers);
// - a minimal kube-proxy: iptables nat chains RUNNEL-SERVICES (jumped to from OUTPUT and
//   PREROUTING for the service range) DNAT ClusterIP:port to a ready endpoint, and RUNNEL-POSTROUTING
//   masquerades pod-to-service-to-pod traffic (so replies come back through the host's conntrack).
//
// Everything it creates carries the `rn-`/`runnel0`/`RUNNEL-` names, and `cleanupNetwork()` removes
// all of it (also what a killed agent left behind, at the next start).

import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import type { Endpoints, Pod, Service } from './kube.js';

export const BRIDGE = process.env.RUNNEL_E2E_BRIDGE || 'runnel0';
export const BRIDGE_IP = '10.77.0.1';
export const BRIDGE_CIDR = `${BRIDGE_IP}/16`;
export const POD_PREFIX_LEN = 17;
export const SERVICE_CIDR = '10.77.128.0/17';
export const NETNS_PREFIX = 'rn-';
export const CLUSTER_DOMAIN = 'cluster.local';

function sh(cmd: string, args: string[], input?: string): string {
  return execFileSync(cmd, args, {
    encoding: 'utf8',
    input,
    stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
}

/** Runs and ignores failure (for cleanup of things that may not exist). */
function trySh(cmd: string, args: string[]): boolean {
  return spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
}

export function setupBridge(): void {
  if (!trySh('ip', ['link', 'show', BRIDGE])) {
    sh('ip', ['link', 'add', BRIDGE, 'type', 'bridge']);
  }
  trySh('ip', ['addr', 'add', BRIDGE_CIDR, 'dev', BRIDGE]);
  sh('ip', ['link', 'set', BRIDGE, 'up']);
  // Forward between pods (and DNAT-ed service traffic) on this bridge only: the per-interface
  // switch, not the global ip_forward.
  fs.writeFileSync(`/proc/sys/net/ipv4/conf/${BRIDGE}/forwarding`, '1');
  // The chains of our kube-proxy.
  const rules = [
    '*nat',
    ':RUNNEL-SERVICES - [0:0]',
    ':RUNNEL-POSTROUTING - [0:0]',
    `-A RUNNEL-POSTROUTING -s 10.77.0.0/${POD_PREFIX_LEN} -d 10.77.0.0/${POD_PREFIX_LEN} -m conntrack --ctstate DNAT -j MASQUERADE`,
    'COMMIT',
    '',
  ].join('\n');
  sh('iptables-restore', ['--noflush'], rules);
  for (const [chain, jump, extra] of [
    ['OUTPUT', 'RUNNEL-SERVICES', ['-d', SERVICE_CIDR]],
    ['PREROUTING', 'RUNNEL-SERVICES', ['-d', SERVICE_CIDR]],
    ['POSTROUTING', 'RUNNEL-POSTROUTING', []],
  ] as const) {
    const spec = [...extra, '-m', 'comment', '--comment', 'runnel-e2e', '-j', jump];
    if (!trySh('iptables', ['-t', 'nat', '-C', chain, ...spec]))
      sh('iptables', ['-t', 'nat', '-I', chain, '1', ...spec]);
  }
  // Bridged pod-to-pod replies must pass conntrack (un-DNAT) like kube-proxy needs.
  trySh('modprobe', ['br_netfilter']);
}

/** Removes the bridge, every rn-* namespace and veth, our iptables chains and /etc/netns/rn-* dirs. */
export function cleanupNetwork(): void {
  for (const ns of listNetns()) deleteNetns(ns);
  for (const chain of ['OUTPUT', 'PREROUTING', 'POSTROUTING']) {
    const saved = spawnSync('iptables', ['-t', 'nat', '-S', chain], { encoding: 'utf8' }).stdout ?? '';
    for (const line of saved.split('\n')) {
      if (line.includes('runnel-e2e') && line.startsWith('-A ')) {
        const args = splitRule(line.slice(3));
        trySh('iptables', ['-t', 'nat', '-D', ...args]);
      }
    }
  }
  for (const chain of ['RUNNEL-SERVICES', 'RUNNEL-POSTROUTING']) {
    trySh('iptables', ['-t', 'nat', '-F', chain]);
    trySh('iptables', ['-t', 'nat', '-X', chain]);
  }
  if (trySh('ip', ['link', 'show', BRIDGE])) trySh('ip', ['link', 'del', BRIDGE]);
}

/** `iptables -S` prints quoted comments: split respecting double quotes. */
function splitRule(s: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s))) out.push(m[1] ?? m[2]);
  return out;
}

export function listNetns(): string[] {
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  return (r.stdout ?? '')
    .split('\n')
    .map((l) => l.split(' ')[0])
    .filter((n) => n.startsWith(NETNS_PREFIX));
}

export function deleteNetns(ns: string): void {
  // The pod runtime stops processes in order; whatever is still in the namespace now is killed.
  const pids = (spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout ?? '')
    .split('\n')
    .filter((l) => /^\d+$/.test(l));
  for (const pid of pids) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  // The veth goes with the namespace.
  trySh('ip', ['netns', 'del', ns]);
  fs.rmSync(`/etc/netns/${ns}`, { recursive: true, force: true });
}

/** Creates rn-<n> with address `ip`/17 on a veth in the bridge; writes an initial hosts file. */
export function createNetns(ns: string, ip: string, hosts: string): void {
  const n = ns.slice(NETNS_PREFIX.length);
  const host = `rnv${n}`;
  deleteNetns(ns);
  trySh('ip', ['link', 'del', host]);
  fs.mkdirSync(`/etc/netns/${ns}`, { recursive: true });
  fs.writeFileSync(`/etc/netns/${ns}/hosts`, hosts);
  fs.writeFileSync(`/etc/netns/${ns}/resolv.conf`, `search ${CLUSTER_DOMAIN}\noptions ndots:1\n`);
  sh('ip', ['netns', 'add', ns]);
  sh('ip', ['link', 'add', host, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
  sh('ip', ['link', 'set', host, 'master', BRIDGE, 'up']);
  sh('ip', ['-n', ns, 'addr', 'add', `${ip}/${POD_PREFIX_LEN}`, 'dev', 'eth0']);
  sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  sh('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
  sh('ip', ['-n', ns, 'route', 'add', 'default', 'via', BRIDGE_IP]);
}

/**
 * Rewrites a hosts file in place (same inode: `ip netns exec` bind-mounted it into running pods,
 * so a rename would not be seen by them).
 */
export function writeInPlace(file: string, text: string): void {
  try {
    if (fs.readFileSync(file, 'utf8') === text) return;
  } catch {
    /* new */
  }
  const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT);
  try {
    const buf = Buffer.from(text);
    fs.writeSync(fd, buf, 0, buf.length, 0);
    fs.ftruncateSync(fd, buf.length);
  } finally {
    fs.closeSync(fd);
  }
}

// ------------------------------------------------------------------------------------------------
// Cluster DNS as hosts files, and services as iptables rules
// ------------------------------------------------------------------------------------------------

export interface DnsRecord {
  ip: string;
  /** Fully qualified name. */
  fqdn: string;
  namespace: string;
  /** The name relative to `<ns>.svc.<domain>`: `<svc>` or `<pod>.<svc>`. */
  relative: string;
}

/** Records for every Service with a ClusterIP, and for the hostnamed endpoints of headless ones. */
export function dnsRecords(services: readonly Service[], endpoints: readonly Endpoints[]): DnsRecord[] {
  const out: DnsRecord[] = [];
  const eps = new Map(endpoints.map((e) => [`${e.metadata.namespace}/${e.metadata.name}`, e]));
  for (const s of services) {
    const ns = s.metadata.namespace;
    const name = s.metadata.name;
    const ip = s.spec?.clusterIP;
    if (ip && ip !== 'None') {
      out.push({ ip, fqdn: `${name}.${ns}.svc.${CLUSTER_DOMAIN}`, namespace: ns, relative: name });
      continue;
    }
    const ep = eps.get(`${ns}/${name}`);
    for (const subset of ep?.subsets ?? []) {
      const addrs = [
        ...(subset.addresses ?? []),
        ...(s.spec?.publishNotReadyAddresses ? (subset.notReadyAddresses ?? []) : []),
      ];
      for (const a of addrs) {
        if (!a.hostname) continue;
        out.push({
          ip: a.ip,
          fqdn: `${a.hostname}.${name}.${ns}.svc.${CLUSTER_DOMAIN}`,
          namespace: ns,
          relative: `${a.hostname}.${name}`,
        });
      }
    }
  }
  return out;
}

/** A pod's /etc/hosts: loopback, itself (as kubelet writes it), then the cluster's names. */
export function podHostsFile(pod: Pod, podIP: string, records: DnsRecord[]): string {
  const ns = pod.metadata.namespace;
  const hostname = pod.spec?.hostname ?? pod.metadata.name;
  const self = pod.spec?.subdomain
    ? `${hostname}.${pod.spec.subdomain}.${ns}.svc.${CLUSTER_DOMAIN} ${hostname}`
    : hostname;
  const lines = [
    '# Kubernetes-managed hosts file (runnel e2e node agent).',
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    `${podIP}\t${self}`,
  ];
  for (const r of records) {
    const names = [r.fqdn, `${r.relative}.${r.namespace}.svc`, `${r.relative}.${r.namespace}`];
    if (r.namespace === ns) names.push(r.relative);
    lines.push(`${r.ip}\t${names.join(' ')}`);
  }
  return lines.join('\n') + '\n';
}

/** The node's view (for tests on the host): fully qualified names only. */
export function nodeHostsFile(records: DnsRecord[]): string {
  const lines = ['127.0.0.1\tlocalhost', '::1\tlocalhost'];
  for (const r of records) lines.push(`${r.ip}\t${r.fqdn} ${r.relative}.${r.namespace}.svc`);
  return lines.join('\n') + '\n';
}

/** iptables-restore input for RUNNEL-SERVICES: each ClusterIP:port to its ready endpoints. */
export function serviceRules(services: readonly Service[], endpoints: readonly Endpoints[]): string {
  const eps = new Map(endpoints.map((e) => [`${e.metadata.namespace}/${e.metadata.name}`, e]));
  const lines = ['*nat', ':RUNNEL-SERVICES - [0:0]'];
  for (const s of services) {
    const ip = s.spec?.clusterIP;
    if (!ip || ip === 'None') continue;
    const ep = eps.get(`${s.metadata.namespace}/${s.metadata.name}`);
    for (const port of s.spec.ports ?? []) {
      const proto = (port.protocol ?? 'TCP').toLowerCase();
      if (proto !== 'tcp' && proto !== 'udp') continue;
      const targets: string[] = [];
      for (const subset of ep?.subsets ?? []) {
        const p = (subset.ports ?? []).find(
          (x) => (x.name ?? '') === (port.name ?? '') || (subset.ports?.length === 1 && !port.name),
        );
        if (!p) continue;
        for (const a of subset.addresses ?? []) targets.push(`${a.ip}:${p.port}`);
      }
      const match = `-d ${ip}/32 -p ${proto} -m ${proto} --dport ${port.port}`;
      const comment = `-m comment --comment "${s.metadata.namespace}/${s.metadata.name}:${port.name ?? port.port}"`;
      // A service without ready endpoints is left unprogrammed (kube-proxy rejects in the filter
      // table instead); its ClusterIP then simply does not answer.
      targets.forEach((t, i) => {
        const left = targets.length - i;
        const prob = left > 1 ? `-m statistic --mode random --probability ${(1 / left).toFixed(5)} ` : '';
        lines.push(`-A RUNNEL-SERVICES ${match} ${comment} ${prob}-j DNAT --to-destination ${t}`);
      });
    }
  }
  lines.push('COMMIT', '');
  return lines.join('\n');
}

let lastRules = '';
export function applyServiceRules(rules: string): void {
  if (rules === lastRules) return;
  sh('iptables-restore', ['--noflush'], rules);
  lastRules = rules;
}
