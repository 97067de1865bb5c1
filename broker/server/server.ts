// TCP listeners. Each accepted socket becomes a Connection; shutdown stops accepting, lets
// every connection finish the requests it already read, then closes them.
//
// Connection limits are Kafka's: max.connections for the whole broker, max.connections.per.ip
// (with per-host max.connections.per.ip.overrides). A connection over a limit is closed as it
// is accepted. (Kafka stops accepting at max.connections until a slot frees; Node cannot
// pause accepting, so it is closed too.) Every close for a cause goes through one CloseLog.

import type { Clock, Timer } from '../clock.js';
import { lookup } from 'node:dns/promises';
import net from 'node:net';
import type { Logger } from 'pino';
import { CloseLog, type CloseCause } from './close-log.js';
import { Connection, type ConnectionInfo, type FrameHandler } from './connection.js';
import type { Listener } from '../config/broker-config.js';

export interface ServerOptions {
  listeners: Listener[];
  maxFrameBytes: number;
  /** max.connections: open connections on all listeners together. */
  maxConnections: number;
  /** max.connections.per.ip */
  maxConnectionsPerIp: number;
  /** max.connections.per.ip.overrides: host name or address → limit. Names are resolved at start. */
  maxConnectionsPerIpOverrides: ReadonlyMap<string, number>;
  /** connections.max.idle.ms; null never closes idle connections. */
  idleTimeoutMs: number | null;
  handle: FrameHandler;
  logger: Logger;
  /** Told of every connection closed or refused for a cause (metrics). */
  closedFor?: (cause: CloseCause) => void;
  clock: Clock;
}

export class KafkaServer {
  private readonly servers: net.Server[] = [];
  private readonly connections = new Set<Connection>();
  private readonly connectionsByIp = new Map<string, number>();
  private readonly limitByIp = new Map<string, number>();
  private readonly closeLog: CloseLog;
  private nextConnectionId = 1;

  constructor(private readonly options: ServerOptions) {
    this.closeLog = new CloseLog(options.logger, { counted: options.closedFor, clock: options.clock });
  }

  /** Binds every listener; resolves with the ports actually bound (port 0 picks a free one). */
  async start(): Promise<number[]> {
    await this.resolveOverrides();
    const ports: number[] = [];
    for (const l of this.options.listeners) {
      const server = net.createServer((socket) => this.accept(socket));
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ port: l.port, host: l.host === '' ? undefined : l.host }, () => {
          server.off('error', reject);
          resolve();
        });
      });
      const address = server.address() as net.AddressInfo;
      ports.push(address.port);
      this.options.logger.info({ listener: l.name, address: address.address, port: address.port }, 'listening');
      this.servers.push(server);
    }
    return ports;
  }

  /** Kafka resolves the hosts of max.connections.per.ip.overrides once, when it reads them. */
  private async resolveOverrides(): Promise<void> {
    for (const [host, limit] of this.options.maxConnectionsPerIpOverrides) {
      if (net.isIP(host)) {
        this.limitByIp.set(normalizeIp(host), limit);
        continue;
      }
      let addresses: Array<{ address: string }>;
      try {
        addresses = await lookup(host, { all: true });
      } catch (err) {
        throw new Error(
          `max.connections.per.ip.overrides: cannot resolve host "${host}" (${(err as Error).message}); give its IP address instead`,
        );
      }
      for (const { address } of addresses) this.limitByIp.set(normalizeIp(address), limit);
    }
  }

  private accept(socket: net.Socket): void {
    const id = this.nextConnectionId++;
    socket.on('error', () => undefined);
    if (socket.remoteAddress === undefined) {
      // Reset before we got to it: nothing to serve.
      socket.destroy();
      return;
    }
    const ip = normalizeIp(socket.remoteAddress);
    const remoteAddress = `${socket.remoteAddress}:${socket.remotePort}`;
    const logger = this.options.logger.child({ connection: id, remote: remoteAddress });
    const refused = this.overLimit(ip);
    if (refused) {
      socket.destroy();
      this.closeLog.record(refused.cause, logger, { reason: refused.reason }, 'refused connection');
      return;
    }
    this.connectionsByIp.set(ip, (this.connectionsByIp.get(ip) ?? 0) + 1);
    const connection = new Connection(socket, { id, remoteAddress, logger }, this.options.handle, {
      maxFrameBytes: this.options.maxFrameBytes,
      idleTimeoutMs: this.options.idleTimeoutMs,
      closedFor: (cause, reason, info, err) => this.connectionClosed(cause, reason, info, err),
    });
    this.connections.add(connection);
    socket.on('close', () => {
      this.connections.delete(connection);
      const left = (this.connectionsByIp.get(ip) ?? 1) - 1;
      if (left > 0) this.connectionsByIp.set(ip, left);
      else this.connectionsByIp.delete(ip);
    });
  }

  private overLimit(ip: string): { cause: CloseCause; reason: string } | undefined {
    const { maxConnections, maxConnectionsPerIp } = this.options;
    if (this.connections.size >= maxConnections) {
      return {
        cause: 'max_connections',
        reason: `the broker has ${this.connections.size} connections (max.connections=${maxConnections})`,
      };
    }
    const limit = this.limitByIp.get(ip) ?? maxConnectionsPerIp;
    const open = this.connectionsByIp.get(ip) ?? 0;
    if (open >= limit) {
      const key = this.limitByIp.has(ip) ? `max.connections.per.ip.overrides for ${ip}` : 'max.connections.per.ip';
      return { cause: 'max_connections_per_ip', reason: `${ip} has ${open} connections (${key}=${limit})` };
    }
    return undefined;
  }

  private connectionClosed(cause: CloseCause, reason: string, info: ConnectionInfo, err: unknown): void {
    const message = cause === 'idle' ? 'closing idle connection' : 'closing connection';
    this.closeLog.record(cause, info.logger, err === undefined ? { reason } : { reason, err }, message);
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /** Stops accepting, finishes requests in flight (up to timeoutMs), closes connections. */
  async stop(timeoutMs: number): Promise<void> {
    for (const s of this.servers) s.close();
    const drained = Promise.all([...this.connections].map((c) => c.drain()));
    let timer: Timer | undefined;
    const timeout = new Promise<void>((resolve) => (timer = this.options.clock.after(timeoutMs, resolve)));
    await Promise.race([drained, timeout]);
    timer?.cancel();
    for (const c of this.connections) c.end();
    this.closeLog.flush();
  }
}

/** The form remoteAddress takes: an IPv4 client of a dual-stack listener is ::ffff:a.b.c.d. */
export function normalizeIp(address: string): string {
  const lower = address.toLowerCase();
  if (lower.startsWith('::ffff:') && net.isIPv4(lower.slice(7))) return lower.slice(7);
  // One spelling per IPv6 address (0:0:0:0:0:0:0:1 is ::1).
  if (net.isIPv6(lower) && !lower.includes('%')) return new URL(`http://[${lower}]`).hostname.slice(1, -1);
  return lower;
}
