// A TCP proxy for tests that sits between Kafka clients and the broker and, for chosen Produce
// requests, drops the broker's response and closes the connection: the broker has stored the
// batch, the client never hears so, and must retry it. Idempotent producers then retry batches
// the broker already holds, which it must acknowledge without storing them twice.

import net from 'node:net';

const PRODUCE_API_KEY = 0;

export interface CuttingProxy {
  readonly port: number;
  /** Produce requests seen so far (1-based count of the last one). */
  readonly produceRequests: number;
  /** Responses dropped, each with a connection cut. */
  readonly cuts: number;
  close(): Promise<void>;
}

/**
 * Listens on a free loopback port and forwards to `targetPort()` (asked per connection, so it
 * can be set after the broker started). `cutAfter(n)` says whether the response to the n-th
 * Produce request (1-based, over all connections) is dropped and the connection cut.
 */
export async function startCuttingProxy(
  targetPort: () => number,
  cutAfter: (produceRequest: number) => boolean,
): Promise<CuttingProxy> {
  let produceRequests = 0;
  let cuts = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect({ host: '127.0.0.1', port: targetPort() });
    sockets.add(client);
    sockets.add(upstream);
    const doomed = new Set<number>();
    const cut = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', () => {
      sockets.delete(client);
      upstream.destroy();
    });
    upstream.on('close', () => {
      sockets.delete(upstream);
      client.destroy();
    });
    client.on('error', cut);
    upstream.on('error', cut);

    frames(
      client,
      (frame) => {
        const apiKey = frame.readInt16BE(0);
        const correlationId = frame.readInt32BE(4);
        if (apiKey === PRODUCE_API_KEY && cutAfter(++produceRequests)) doomed.add(correlationId);
      },
      (chunk) => upstream.write(chunk),
    );

    frames(upstream, (frame) => {
      const correlationId = frame.readInt32BE(0);
      if (!doomed.has(correlationId)) return true;
      cuts++;
      cut();
      return false;
    });

    /** Calls `onFrame` per whole frame (size prefix removed); `raw` forwards received bytes as they are. */
    function frames(
      socket: net.Socket,
      onFrame: (frame: Buffer) => boolean | void,
      raw?: (chunk: Buffer) => void,
    ): void {
      let buffered = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        raw?.(chunk);
        buffered = Buffer.concat([buffered, chunk]);
        while (buffered.length >= 4 && buffered.length >= 4 + buffered.readInt32BE(0)) {
          const size = buffered.readInt32BE(0);
          const frame = buffered.subarray(4, 4 + size);
          const whole = buffered.subarray(0, 4 + size);
          buffered = buffered.subarray(4 + size);
          const forward = onFrame(frame);
          // Responses are forwarded frame by frame, so a dropped one never reaches the client.
          if (!raw && forward !== false) client.write(whole);
          if (forward === false) return;
        }
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    get produceRequests() {
      return produceRequests;
    },
    get cuts() {
      return cuts;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
