// Kafka's connection limits against a broker process: max.connections.per.ip (with
// overrides) and max.connections close a connection as it is accepted; connections.max.idle.ms
// closes quiet ones; and connections closed for a cause are counted per cause in /metrics but
// logged at a bounded rate, so that bad input cannot flood the log.

import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLOSE_LOG_BURST } from '../server/close-log.js';
import { ErrorCode } from '../protocol/errors.js';
import { ApiVersions, CreateTopics, Fetch } from '../protocol/messages/index.js';
import { startBroker, type BrokerProcess } from './broker-process.js';
import { RawConnection, encodeRequest, waitFor } from './raw-client.js';

interface Probe {
  outcome: 'served' | 'closed';
  socket: net.Socket;
}

/** Connects from `localAddress` and sends ApiVersions: served when answered, closed when the broker hangs up first. */
function probe(port: number, localAddress: string): Promise<Probe> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress });
    socket.once('connect', () =>
      socket.write(
        encodeRequest(
          ApiVersions,
          3,
          { clientSoftwareName: 'probe', clientSoftwareVersion: '0' },
          { correlationId: 1 },
        ),
      ),
    );
    socket.once('data', () => resolve({ outcome: 'served', socket }));
    socket.once('close', () => resolve({ outcome: 'closed', socket }));
    socket.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ECONNRESET' && err.code !== 'EPIPE') reject(err);
    });
  });
}

async function metrics(broker: BrokerProcess): Promise<string> {
  return (await fetch(`http://127.0.0.1:${broker.httpPort}/metrics`)).text();
}

function metricValue(text: string, line: RegExp): number {
  const m = new RegExp(`^${line.source} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

async function expectLogged(broker: BrokerProcess, pattern: RegExp): Promise<void> {
  await waitFor(() => pattern.test(broker.output()), `a broker log line matching ${pattern}`);
}

const closedFor = (cause: string) => new RegExp(`runnel_connections_closed_total\\{cause="${cause}"\\}`);

describe('max.connections.per.ip, its overrides and max.connections', () => {
  let broker: BrokerProcess;
  const open: net.Socket[] = [];

  beforeAll(async () => {
    broker = await startBroker({
      overrides: {
        'runnel.http.listener': '127.0.0.1:0',
        'max.connections.per.ip': '2',
        'max.connections.per.ip.overrides': '127.0.0.2:4',
        'max.connections': '7',
      },
    });
  });
  afterAll(async () => {
    for (const s of open) s.destroy();
    await broker?.stop();
  });

  async function outcomes(localAddress: string, count: number): Promise<string[]> {
    const out: string[] = [];
    for (let i = 0; i < count; i++) {
      const p = await probe(broker.port, localAddress);
      if (p.outcome === 'served') open.push(p.socket);
      out.push(p.outcome);
    }
    return out;
  }

  it('closes a connection over its address limit at accept, and accepts again once one of them closes', async () => {
    expect(await outcomes('127.0.0.1', 3)).toEqual(['served', 'served', 'closed']);
    expect(await outcomes('127.0.0.2', 5)).toEqual(['served', 'served', 'served', 'served', 'closed']);
    // Six open: a third address gets the seventh, then max.connections refuses.
    expect(await outcomes('127.0.0.3', 2)).toEqual(['served', 'closed']);

    let text = await metrics(broker);
    expect(metricValue(text, closedFor('max_connections_per_ip'))).toBe(2);
    expect(metricValue(text, closedFor('max_connections'))).toBe(1);
    await expectLogged(
      broker,
      /"reason":"127.0.0.1 has 2 connections \(max.connections.per.ip=2\)"[^\n]*"msg":"refused connection"/,
    );
    await expectLogged(
      broker,
      /"reason":"127.0.0.2 has 4 connections \(max.connections.per.ip.overrides for 127.0.0.2=4\)"/,
    );
    await expectLogged(broker, /"reason":"the broker has 7 connections \(max.connections=7\)"/);

    open.shift()!.destroy();
    const closedOne = async () => metricValue(await metrics(broker), /runnel_connections/) === 6;
    for (let tries = 0; !(await closedOne()); tries++) {
      if (tries === 100) throw new Error('the broker did not see the connection close');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(await outcomes('127.0.0.1', 1)).toEqual(['served']);
    text = await metrics(broker);
    expect(metricValue(text, closedFor('max_connections_per_ip'))).toBe(2);
  });
});

describe('connections.max.idle.ms and connections closed for bad input', () => {
  let broker: BrokerProcess;
  const IDLE_MS = 500;

  beforeAll(async () => {
    broker = await startBroker({
      overrides: { 'runnel.http.listener': '127.0.0.1:0', 'connections.max.idle.ms': String(IDLE_MS) },
    });
    const admin = await RawConnection.open(broker.port);
    const created = await admin.request(CreateTopics, 7, {
      topics: [{ name: 'quiet', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }],
      timeoutMs: 10_000,
      validateOnly: false,
    });
    expect(created.topics[0].errorCode).toBe(ErrorCode.NONE);
    admin.close();
  });
  afterAll(async () => {
    await broker?.stop();
  });

  it('closes a connection with nothing to do for that long, but not one that keeps talking or waits on a long poll', async () => {
    const quiet = await RawConnection.open(broker.port);
    const talking = await RawConnection.open(broker.port);
    const polling = await RawConnection.open(broker.port);
    const openedAt = performance.now();
    await quiet.request(ApiVersions, 3, { clientSoftwareName: 'quiet', clientSoftwareVersion: '0' });
    const poll = polling
      .request(Fetch, 12, {
        maxWaitMs: 3 * IDLE_MS,
        minBytes: 1,
        maxBytes: 1024 * 1024,
        isolationLevel: 0,
        sessionId: 0,
        sessionEpoch: -1,
        topics: [{ topic: 'quiet', partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 1024 * 1024 }] }],
        forgottenTopicsData: [],
        rackId: '',
      })
      .then((res) => ({
        errorCode: res.errorCode,
        afterMs: performance.now() - openedAt,
        openWhenAnswered: polling.open,
      }));
    while (performance.now() - openedAt < 4 * IDLE_MS) {
      await talking.request(ApiVersions, 3, { clientSoftwareName: 'talking', clientSoftwareVersion: '0' });
      await new Promise((resolve) => setTimeout(resolve, IDLE_MS / 5));
    }
    const closed = await quiet.closed;
    expect(closed.byPeer).toBe(true);
    expect(talking.open).toBe(true);
    const answered = await poll;
    expect(answered.errorCode).toBe(ErrorCode.NONE);
    expect(answered.afterMs).toBeGreaterThanOrEqual(3 * IDLE_MS - 50);
    expect(answered.openWhenAnswered).toBe(true);
    // Quiet after its answer, it goes too.
    expect((await polling.closed).byPeer).toBe(true);
    talking.close();
    await expectLogged(
      broker,
      /"cause":"idle"[^\n]*"reason":"no requests for 500 ms \(connections.max.idle.ms\)"[^\n]*"msg":"closing idle connection"/,
    );
    expect(metricValue(await metrics(broker), closedFor('idle'))).toBe(2);
  });

  it('counts 1,000 connections closed for a bad frame, and logs only a handful of lines about them', async () => {
    const BAD = 1_000;
    const BATCH = 50;
    const before = broker.output().length;
    for (let sent = 0; sent < BAD; sent += BATCH) {
      await Promise.all(
        Array.from({ length: BATCH }, async () => {
          const c = await RawConnection.open(broker.port);
          c.write(Buffer.from([0xff, 0xff, 0xff, 0xfe, 0, 0, 0, 0]));
          expect((await c.closed).byPeer).toBe(true);
        }),
      );
    }
    expect(metricValue(await metrics(broker), closedFor('invalid_frame'))).toBe(BAD);
    await expectLogged(broker, /"reason":"frame of -2 bytes is outside/);
    // Log lines are written asynchronously: give any late ones time to arrive before counting.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const lines = broker
      .output()
      .slice(before)
      .split('\n')
      .filter((l) => l.includes('"cause":"invalid_frame"'));
    expect(lines.length).toBeGreaterThanOrEqual(1);
    expect(lines.length).toBeLessThanOrEqual(CLOSE_LOG_BURST + 2);
    expect(lines[0]).toMatch(/"reason":"frame of -2 bytes is outside[^"]*"/);
    // The broker still serves.
    const c = await RawConnection.open(broker.port);
    expect(
      (await c.request(ApiVersions, 3, { clientSoftwareName: 'after', clientSoftwareVersion: '0' })).errorCode,
    ).toBe(ErrorCode.NONE);
    c.close();
  }, 60_000);
});
