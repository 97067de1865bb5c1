import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { ManualClock, systemClock, type Clock } from '../clock.js';
import { writeResponseHeader } from '../protocol/header.js';
import { hasFlexibleResponseHeader, type AnyApi } from '../protocol/frames.js';
import { AddRaftVoter, ApiVersions, Metadata } from '../protocol/messages/index.js';
import { ZERO_UUID } from '../protocol/schema.js';
import { compile, isFlexible } from '../protocol/schema.js';
import { Writer } from '../protocol/wire.js';
import { startBroker, type BrokerProcess } from '../test/broker-process.js';
import { decodeRequest, waitFor, type DecodedRequest } from '../test/raw-client.js';
import { NodeClient, NodeClientError, NodeClients } from './node-client.js';

// ---- a scripted peer -----------------------------------------------------------------------------

type Answer = (req: DecodedRequest, socket: net.Socket) => void;

/** A plain TCP server that decodes request frames and lets the test decide what to answer. */
class FakeNode {
  private constructor(
    private readonly server: net.Server,
    readonly port: number,
    readonly requests: DecodedRequest[],
    readonly sockets: net.Socket[],
  ) {}

  static async start(answer: Answer): Promise<FakeNode> {
    const requests: DecodedRequest[] = [];
    const sockets: net.Socket[] = [];
    const server = net.createServer((socket) => {
      sockets.push(socket);
      let buffered = Buffer.alloc(0);
      socket.on('error', () => {});
      socket.on('data', (d: Buffer) => {
        buffered = Buffer.concat([buffered, d]);
        while (buffered.length >= 4 && buffered.length >= 4 + buffered.readInt32BE(0)) {
          const size = buffered.readInt32BE(0);
          const req = decodeRequest(buffered.subarray(0, 4 + size));
          buffered = buffered.subarray(4 + size);
          requests.push(req);
          answer(req, socket);
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return new FakeNode(server, (server.address() as net.AddressInfo).port, requests, sockets);
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A response frame (size prefix included) to `req`, at the request's version. */
function responseFrame(req: DecodedRequest, body: Record<string, unknown>): Buffer {
  const api = req.api;
  const version = req.header.apiVersion;
  const w = new Writer();
  const setSize = w.placeholderInt32();
  writeResponseHeader(w, req.header.correlationId, hasFlexibleResponseHeader(api, version));
  compile(api.response, version, isFlexible(api, version)).write(w, body);
  setSize(w.length - 4);
  return w.toBuffer();
}

/** Serves ApiVersions with the given APIs (ours, by default, at their full ranges). */
function apiVersionsAnswer(apis: readonly AnyApi[] = [ApiVersions, Metadata]): Answer {
  return (req, socket) => {
    if (req.api.key !== ApiVersions.key) return;
    socket.write(
      responseFrame(req, {
        errorCode: 0,
        apiKeys: apis.map((a) => ({ apiKey: a.key, minVersion: a.minVersion, maxVersion: a.maxVersion })),
      }),
    );
  };
}

const emptyMetadataResponse = {
  brokers: [],
  clusterId: 'fake',
  controllerId: 1,
  topics: [],
};

function rejection(p: Promise<unknown>): Promise<NodeClientError> {
  return p.then(
    () => {
      throw new Error('expected the request to fail');
    },
    (err: unknown) => {
      expect(err).toBeInstanceOf(NodeClientError);
      return err as NodeClientError;
    },
  );
}

const metadataRequest = { topics: [], allowAutoTopicCreation: false };

// ---- against a real broker -----------------------------------------------------------------------

describe('NodeClient against a Runnel broker process', () => {
  let broker: BrokerProcess;
  beforeAll(async () => {
    broker = await startBroker();
  }, 30_000);
  afterAll(async () => {
    await broker.stop();
  });

  test('negotiates versions with ApiVersions and answers with min(our max, its max)', async () => {
    const client = new NodeClient({ host: '127.0.0.1', port: broker.port, clock: systemClock });
    try {
      const res = await client.request(Metadata, 'latest', metadataRequest, { timeoutMs: 10_000 });
      expect(res.brokers.map((b) => b.nodeId)).toEqual([1]);
      const theirs = client.peerVersions!.get(Metadata.key)!;
      expect(theirs.maxVersion).toBeGreaterThan(0);
    } finally {
      client.close();
    }
  });

  test('pipelines many requests on one connection, each answered in its own promise', async () => {
    const client = new NodeClient({ host: '127.0.0.1', port: broker.port, clock: systemClock });
    try {
      const versions = [12, 'latest', 9, 4, 1] as const;
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          client.request(Metadata, versions[i % versions.length], metadataRequest, { timeoutMs: 10_000 }),
        ),
      );
      expect(results).toHaveLength(50);
      for (const r of results) expect(r.brokers[0].port).toBe(broker.port);
      expect(client.inFlight).toBe(0);
    } finally {
      client.close();
    }
  });

  test('a request for an API the peer does not serve rejects clearly, and the connection stays usable', async () => {
    const client = new NodeClient({ host: '127.0.0.1', port: broker.port, clock: systemClock });
    try {
      const addVoter = { clusterId: null, timeoutMs: 1000, voterId: 9, voterDirectoryId: ZERO_UUID, listeners: [] };
      const voter = client.request(AddRaftVoter, 'latest', addVoter, { timeoutMs: 10_000 });
      const err = await rejection(voter);
      expect(err.kind).toBe('unsupported');
      expect(err.message).toBe(`127.0.0.1:${broker.port}: the peer does not serve AddRaftVoter (API key 80)`);
      await client.request(Metadata, 'latest', metadataRequest, { timeoutMs: 10_000 });
    } finally {
      client.close();
    }
  });

  test('a refused connection names the peer; the next request connects again', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const client = new NodeClient({ host: '127.0.0.1', port, clock: systemClock });
    const err = await rejection(client.request(Metadata, 'latest', metadataRequest, { timeoutMs: 10_000 }));
    expect(err.kind).toBe('connection');
    expect(err.peer).toBe(`127.0.0.1:${port}`);
    expect(err.message).toContain('ECONNREFUSED');
    client.close();
  });
});

// ---- against scripted peers ----------------------------------------------------------------------

describe('NodeClient against a scripted peer', () => {
  const nodes: FakeNode[] = [];
  const clients: NodeClient[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    for (const n of nodes.splice(0)) await n.stop();
  });
  async function fake(answer: Answer): Promise<FakeNode> {
    const node = await FakeNode.start(answer);
    nodes.push(node);
    return node;
  }
  function clientOf(node: FakeNode, clock: Clock = new ManualClock(), extra: { maxInFlightRequests?: number } = {}) {
    const client = new NodeClient({ host: '127.0.0.1', port: node.port, clock, ...extra });
    clients.push(client);
    return client;
  }

  test('a peer that never answers: the request times out on the injected clock, others in flight fail too', async () => {
    const node = await fake(apiVersionsAnswer()); // answers ApiVersions only, never Metadata
    const clock = new ManualClock();
    const client = clientOf(node, clock);
    const slow = client.request(Metadata, 'latest', metadataRequest, { timeoutMs: 1000 });
    const other = client.request(Metadata, 'latest', metadataRequest, { timeoutMs: 5000 });
    await waitFor(() => node.requests.filter((r) => r.api.key === Metadata.key).length === 2, 'both requests sent');
    clock.advance(999);
    expect(client.inFlight).toBe(2);
    clock.advance(1);
    const timedOut = await rejection(slow);
    expect(timedOut.kind).toBe('timeout');
    expect(timedOut.message).toBe(`127.0.0.1:${node.port}: Metadata got no response within 1000 ms`);
    const failed = await rejection(other);
    expect(failed.kind).toBe('connection');
    expect(failed.message).toContain('Metadata timed out');
    expect(clock.pending).toBe(0);

    // The next request opens a new connection (and times out again: the peer is still mute).
    const again = client.request(Metadata, 'latest', metadataRequest, { timeoutMs: 10 });
    await waitFor(() => node.sockets.length === 2, 'a second connection');
    clock.advance(10);
    expect((await rejection(again)).kind).toBe('timeout');
  });

  test('a peer that stays silent even to ApiVersions: the timeout covers connecting and the handshake', async () => {
    const node = await fake(() => {});
    const clock = new ManualClock();
    const client = clientOf(node, clock);
    const req = client.request(Metadata, 'latest', metadataRequest, { timeoutMs: 300 });
    await waitFor(() => node.requests.length === 1, 'ApiVersions sent');
    expect(node.requests[0].api.key).toBe(ApiVersions.key);
    expect(node.requests[0].header.apiVersion).toBe(ApiVersions.maxVersion);
    clock.advance(300);
    expect((await rejection(req)).kind).toBe('timeout');
  });

  test('a peer that closes mid-response fails the request; the next request reconnects and succeeds', async () => {
    let cut = true;
    const node = await fake((req, socket) => {
      apiVersionsAnswer()(req, socket);
      if (req.api.key !== Metadata.key) return;
      const frame = responseFrame(req, emptyMetadataResponse);
      if (cut) {
        cut = false;
        socket.end(frame.subarray(0, frame.length - 3));
      } else {
        socket.write(frame);
      }
    });
    const client = clientOf(node, systemClock);
    const err = await rejection(client.request(Metadata, 'latest', metadataRequest, { timeoutMs: 10_000 }));
    expect(err.kind).toBe('connection');
    expect(err.message).toBe(`127.0.0.1:${node.port}: connection closed by the peer while Metadata was in flight`);
    const res = await client.request(Metadata, 'latest', metadataRequest, { timeoutMs: 10_000 });
    expect(res.clusterId).toBe('fake');
    expect(node.sockets).toHaveLength(2);
  });

  test('responses are matched by correlation id even out of order', async () => {
    const held: Array<{ req: DecodedRequest; socket: net.Socket }> = [];
    const node = await fake((req, socket) => {
      apiVersionsAnswer()(req, socket);
      if (req.api.key !== Metadata.key) return;
      held.push({ req, socket });
      if (held.length === 3) {
        for (const h of held.reverse()) {
          h.socket.write(
            responseFrame(h.req, { ...emptyMetadataResponse, clusterId: `c${h.req.header.correlationId}` }),
          );
        }
      }
    });
    const client = clientOf(node);
    const results = await Promise.all(
      [0, 1, 2].map(() => client.request(Metadata, 'latest', metadataRequest, { timeoutMs: 1000 })),
    );
    const ids = node.requests.filter((r) => r.api.key === Metadata.key).map((r) => `c${r.header.correlationId}`);
    expect(results.map((r) => r.clusterId)).toEqual(ids);
  });

  test('an oversized response frame closes the connection before it is buffered', async () => {
    const node = await fake((req, socket) => {
      apiVersionsAnswer()(req, socket);
      if (req.api.key !== Metadata.key) return;
      const prefix = Buffer.alloc(8);
      prefix.writeInt32BE(2048, 0);
      prefix.writeInt32BE(req.header.correlationId, 4);
      socket.write(prefix);
    });
    const client = new NodeClient({
      host: '127.0.0.1',
      port: node.port,
      clock: new ManualClock(),
      maxResponseBytes: 1024,
    });
    clients.push(client);
    const err = await rejection(client.request(Metadata, 'latest', metadataRequest, { timeoutMs: 1000 }));
    expect(err.kind).toBe('protocol');
    expect(err.message).toContain('response frame of 2048 bytes exceeds the limit of 1024 bytes');
  });

  test('a response to no request closes the connection', async () => {
    const node = await fake((req, socket) => {
      apiVersionsAnswer()(req, socket);
      if (req.api.key !== Metadata.key) return;
      socket.write(responseFrame({ ...req, header: { ...req.header, correlationId: 999 } }, emptyMetadataResponse));
    });
    const client = clientOf(node);
    const err = await rejection(client.request(Metadata, 'latest', metadataRequest, { timeoutMs: 1000 }));
    expect(err.kind).toBe('protocol');
    expect(err.message).toContain('correlation id 999');
  });

  test('requests beyond the in-flight bound reject at once', async () => {
    const node = await fake(apiVersionsAnswer());
    const client = clientOf(node, new ManualClock(), { maxInFlightRequests: 2 });
    const a = client.request(Metadata, 'latest', metadataRequest, { timeoutMs: 1000 });
    const b = client.request(Metadata, 'latest', metadataRequest, { timeoutMs: 1000 });
    const err = await rejection(client.request(Metadata, 'latest', metadataRequest, { timeoutMs: 1000 }));
    expect(err.kind).toBe('backpressure');
    client.close();
    expect((await rejection(a)).kind).toBe('closed');
    expect((await rejection(b)).kind).toBe('closed');
    expect((await rejection(client.request(Metadata, 1, metadataRequest, { timeoutMs: 1000 }))).kind).toBe('closed');
  });

  test("'latest' takes the peer's max when it is lower; an explicit version the peer lacks rejects", async () => {
    const metadataV4 = { ...Metadata, maxVersion: 4 };
    const node = await fake((req, socket) => {
      apiVersionsAnswer([ApiVersions, metadataV4])(req, socket);
      if (req.api.key === Metadata.key) socket.write(responseFrame(req, emptyMetadataResponse));
    });
    const client = clientOf(node);
    await client.request(Metadata, 'latest', metadataRequest, { timeoutMs: 1000 });
    expect(node.requests.at(-1)!.header.apiVersion).toBe(4);
    const err = await rejection(client.request(Metadata, 9, metadataRequest, { timeoutMs: 1000 }));
    expect(err.kind).toBe('unsupported');
    expect(err.message).toContain('the peer serves Metadata v0-4, not v9');
  });

  test('a peer that does not know our ApiVersions version is asked again at its own max', async () => {
    const node = await fake((req, socket) => {
      if (req.api.key === ApiVersions.key && req.header.apiVersion > 3) {
        // Kafka's answer to an unknown ApiVersions version: UNSUPPORTED_VERSION, encoded as v0.
        socket.write(
          responseFrame(
            { ...req, header: { ...req.header, apiVersion: 0 } },
            {
              errorCode: 35,
              apiKeys: [{ apiKey: ApiVersions.key, minVersion: 0, maxVersion: 3 }],
            },
          ),
        );
        return;
      }
      apiVersionsAnswer()(req, socket);
      if (req.api.key === Metadata.key) socket.write(responseFrame(req, emptyMetadataResponse));
    });
    const client = clientOf(node);
    await client.request(Metadata, 'latest', metadataRequest, { timeoutMs: 1000 });
    expect(node.requests.map((r) => [r.api.name, r.header.apiVersion])).toEqual([
      ['ApiVersions', 4],
      ['ApiVersions', 3],
      ['Metadata', Metadata.maxVersion],
    ]);
  });

  test('NodeClients hands out one client per node and closes them all', async () => {
    const node = await fake(apiVersionsAnswer());
    const pool = new NodeClients([[2, { host: '127.0.0.1', port: node.port }]], { clock: new ManualClock() });
    const c = pool.get(2);
    expect(pool.get(2)).toBe(c);
    expect(() => pool.get(3)).toThrow('no address known for node 3');
    const pending = c.request(Metadata, 'latest', metadataRequest, { timeoutMs: 1000 });
    pool.setAddress(2, { host: '127.0.0.1', port: node.port }); // unchanged: same client
    expect(pool.get(2)).toBe(c);
    pool.close();
    expect((await rejection(pending)).kind).toBe('closed');
    expect(() => pool.get(2)).toThrow('node clients closed');
  });

  test('NodeClients: a moved node gets a new client', async () => {
    const node = await fake(apiVersionsAnswer());
    const pool = new NodeClients([[2, { host: '127.0.0.1', port: 1 }]], { clock: new ManualClock() });
    const old = pool.get(2);
    pool.setAddress(2, { host: '127.0.0.1', port: node.port });
    const moved = pool.get(2);
    expect(moved).not.toBe(old);
    expect(moved.peer).toBe(`127.0.0.1:${node.port}`);
    expect((await rejection(old.request(Metadata, 1, metadataRequest, { timeoutMs: 10 }))).kind).toBe('closed');
    pool.close();
  });
});
