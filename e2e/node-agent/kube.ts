// A small Kubernetes API client for the node agent: JSON over HTTPS with the token and CA of a
// kubeconfig (the kind cluster.ts writes: one cluster, one token user). No dependencies.

import type {
  V1ConfigMap,
  V1Endpoints,
  V1Node,
  V1ObjectMeta,
  V1PersistentVolume,
  V1PersistentVolumeClaim,
  V1PersistentVolumeClaimSpec,
  V1PersistentVolumeSpec,
  V1Pod,
  V1PodSpec,
  V1Secret,
  V1Service,
  V1ServiceSpec,
  V1StorageClass,
} from '@kubernetes/client-node';
import * as fs from 'node:fs';
import * as https from 'node:https';
import { parse as parseYaml } from 'yaml';

/**
 * An object as the API server sends it in JSON, typed with @kubernetes/client-node's models: this
 * client does not deserialise, so each `Date` field of a model is the RFC 3339 string on the wire.
 */
export type Wire<T> = T extends Date
  ? string
  : T extends (infer U)[]
    ? Wire<U>[]
    : T extends object
      ? { [K in keyof T]: Wire<T[K]> }
      : T;

/** A stored object: the API server always sets its name and uid (and namespace, for namespaced kinds). */
export type Stored<T> = Wire<T> & { metadata: Wire<V1ObjectMeta> & { name: string; uid: string } };
export type Namespaced<T> = Stored<T> & { metadata: { namespace: string } };

export type Pod = Namespaced<V1Pod> & { spec: Wire<V1PodSpec> };
export type Service = Namespaced<V1Service> & { spec: Wire<V1ServiceSpec> };
export type Endpoints = Namespaced<V1Endpoints>;
export type ConfigMap = Namespaced<V1ConfigMap>;
export type Secret = Namespaced<V1Secret>;
export type PersistentVolumeClaim = Namespaced<V1PersistentVolumeClaim> & { spec: Wire<V1PersistentVolumeClaimSpec> };
export type PersistentVolume = Stored<V1PersistentVolume> & { spec: Wire<V1PersistentVolumeSpec> };
export type StorageClass = Stored<V1StorageClass>;
export type Node = Stored<V1Node>;

/** The parts of a kubeconfig this client reads. */
interface Kubeconfig {
  'current-context'?: string;
  contexts?: { name: string; context: { cluster?: string; user?: string } }[];
  clusters: {
    name: string;
    cluster: { server: string; 'certificate-authority-data'?: string; 'certificate-authority'?: string };
  }[];
  users: { name: string; user: { token: string } }[];
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly method: string,
    readonly path: string,
    readonly body: string,
  ) {
    super(`${method} ${path}: ${status} ${body.slice(0, 300)}`);
  }
}

export class Kube {
  readonly server: string;
  private readonly ca: Buffer;
  private readonly token: string;
  private readonly agent: https.Agent;

  constructor(kubeconfigPath: string) {
    const kc = parseYaml(fs.readFileSync(kubeconfigPath, 'utf8')) as Kubeconfig;
    const ctxName = kc['current-context'];
    const ctx = (kc.contexts ?? []).find((c) => c.name === ctxName)?.context ?? kc.contexts?.[0]?.context;
    const cluster = (kc.clusters ?? []).find((c) => c.name === ctx?.cluster)?.cluster ?? kc.clusters[0].cluster;
    const user = (kc.users ?? []).find((u) => u.name === ctx?.user)?.user ?? kc.users[0].user;
    this.server = cluster.server;
    this.ca = cluster['certificate-authority-data']
      ? Buffer.from(cluster['certificate-authority-data'], 'base64')
      : fs.readFileSync(cluster['certificate-authority'] ?? '');
    this.token = user.token;
    this.agent = new https.Agent({ keepAlive: true, maxSockets: 8, ca: this.ca });
  }

  /** The API server's CA (PEM). */
  get caPem(): Buffer {
    return this.ca;
  }

  async request<T>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
    const data = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    return new Promise<T>((resolve, reject) => {
      const req = https.request(
        new URL(this.server + path),
        {
          method,
          agent: this.agent,
          timeout: 15_000,
          headers: {
            authorization: `Bearer ${this.token}`,
            accept: 'application/json',
            ...(data !== undefined
              ? { 'content-type': contentType, 'content-length': String(Buffer.byteLength(data)) }
              : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (d: Buffer) => chunks.push(d));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const status = res.statusCode ?? 0;
            if (status < 200 || status >= 300) return reject(new ApiError(status, method, path, text));
            try {
              resolve((text ? JSON.parse(text) : {}) as T);
            } catch (e) {
              reject(e instanceof Error ? e : new Error(String(e)));
            }
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`timeout: ${method} ${path}`)));
      req.on('error', reject);
      req.end(data);
    });
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  /** GET, or undefined on 404. */
  async getOr<T>(path: string): Promise<T | undefined> {
    try {
      return await this.get<T>(path);
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return undefined;
      throw e;
    }
  }

  /** A list served from the API server's watch cache (resourceVersion=0): cheap, may lag slightly. */
  async list<T>(path: string, query: Record<string, string> = {}): Promise<T[]> {
    const q = new URLSearchParams({ resourceVersion: '0', ...query });
    const r = await this.get<{ items?: T[] }>(`${path}?${q}`);
    return r.items ?? [];
  }

  mergePatch<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PATCH', path, body, 'application/merge-patch+json');
  }

  destroy(): void {
    this.agent.destroy();
  }
}

export const isNotFound = (e: unknown) => e instanceof ApiError && e.status === 404;
export const isConflict = (e: unknown) => e instanceof ApiError && e.status === 409;
