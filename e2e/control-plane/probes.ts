// Waiting for the control plane's components: free loopback ports, plain HTTP(S) requests, and
// polling a readiness check until a deadline (or until the component died).
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';

/** Polls `check` every 250 ms until it holds; fails at `deadline`, or at once when `exited()` says why the component is gone. */
export async function waitFor(
  what: string,
  deadline: number,
  exited: () => string | undefined,
  check: () => Promise<boolean>,
): Promise<void> {
  let last = '';
  while (Date.now() < deadline) {
    const gone = exited();
    if (gone) throw new Error(`${gone} before ${what} was ready`);
    try {
      if (await check()) return;
    } catch (e) {
      last = (e as Error).message;
    }
    await sleep(250);
  }
  throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${last})` : ''}`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function freePort(): Promise<number> {
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

export function httpRequest(
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
