// TCP listeners. Each accepted socket becomes a Connection; shutdown stops accepting, lets
// every connection finish the requests it already read, then closes them.

import net from 'node:net';
import type { Logger } from 'pino';
import { Connection, type FrameHandler } from './connection.js';
import type { Listener } from '../config/broker-config.js';

export interface ServerOptions {
  listeners: Listener[];
  maxFrameBytes: number;
  maxConnections: number;
  handle: FrameHandler;
  logger: Logger;
}

export class KafkaServer {
  private readonly servers: net.Server[] = [];
  private readonly connections = new Set<Connection>();
  private nextConnectionId = 1;

  constructor(private readonly options: ServerOptions) {}

  /** Binds every listener; resolves with the ports actually bound (port 0 picks a free one). */
  async start(): Promise<number[]> {
    const ports: number[] = [];
    for (const l of this.options.listeners) {
      const server = net.createServer((socket) => this.accept(socket));
      server.maxConnections = this.options.maxConnections;
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

  private accept(socket: net.Socket): void {
    const id = this.nextConnectionId++;
    const remoteAddress = `${socket.remoteAddress}:${socket.remotePort}`;
    const logger = this.options.logger.child({ connection: id, remote: remoteAddress });
    const connection = new Connection(socket, { id, remoteAddress, logger }, this.options.handle, this.options.maxFrameBytes);
    this.connections.add(connection);
    socket.on('close', () => this.connections.delete(connection));
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /** Stops accepting, finishes requests in flight (up to timeoutMs), closes connections. */
  async stop(timeoutMs: number): Promise<void> {
    for (const s of this.servers) s.close();
    const drained = Promise.all([...this.connections].map((c) => c.drain()));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    await Promise.race([drained, timeout]);
    clearTimeout(timer);
    for (const c of this.connections) c.end();
  }
}
