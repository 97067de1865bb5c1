// A small Kubernetes API client for the node agent: JSON over HTTPS with the token and CA of a
// kubeconfig (the kind cluster.ts writes: one cluster, one token user). No dependencies.

import * as fs from 'node:fs';
import * as https from 'node:https';
import { parse as parseYaml } from 'yaml';

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
    const kc = parseYaml(fs.readFileSync(kubeconfigPath, 'utf8')) as any;
    const ctxName = kc['current-context'];
    const ctx = (kc.contexts ?? []).find((c: any) => c.name === ctxName)?.context ?? kc.contexts?.[0]?.context;
    const cluster = (kc.clusters ?? []).find((c: any) => c.name === ctx?.cluster)?.cluster ?? kc.clusters[0].cluster;
    const user = (kc.users ?? []).find((u: any) => u.name === ctx?.user)?.user ?? kc.users[0].user;
    this.server = cluster.server;
    this.ca = cluster['certificate-authority-data']
      ? Buffer.from(cluster['certificate-authority-data'], 'base64')
      : fs.readFileSync(cluster['certificate-authority']);
    this.token = user.token;
    this.agent = new https.Agent({ keepAlive: true, maxSockets: 8, ca: this.ca });
  }

  /** The API server's CA (PEM). */
  get caPem(): Buffer {
    return this.ca;
  }

  async request<T = any>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
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
            ...(data !== undefined ? { 'content-type': contentType, 'content-length': String(Buffer.byteLength(data)) } : {}),
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
              reject(e);
            }
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`timeout: ${method} ${path}`)));
      req.on('error', reject);
      req.end(data);
    });
  }

  get<T = any>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  /** GET, or undefined on 404. */
  async getOr<T = any>(path: string): Promise<T | undefined> {
    try {
      return await this.get<T>(path);
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return undefined;
      throw e;
    }
  }

  /** A list served from the API server's watch cache (resourceVersion=0): cheap, may lag slightly. */
  async list<T = any>(path: string, query: Record<string, string> = {}): Promise<T[]> {
    const q = new URLSearchParams({ resourceVersion: '0', ...query });
    const r = await this.get<{ items?: T[] }>(`${path}?${q}`);
    return r.items ?? [];
  }

  mergePatch<T = any>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PATCH', path, body, 'application/merge-patch+json');
  }

  destroy(): void {
    this.agent.destroy();
  }
}

export const isNotFound = (e: unknown) => e instanceof ApiError && e.status === 404;
export const isConflict = (e: unknown) => e instanceof ApiError && e.status === 409;
