import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type BrokerProcess } from './broker-process.js';
import { kcat } from './kcat.js';

describe('the broker HTTP endpoint', () => {
  let broker: BrokerProcess;
  const url = (path: string) => `http://127.0.0.1:${broker.httpPort}${path}`;

  beforeAll(async () => {
    broker = await startBroker({ overrides: { 'runnel.http.listener': '127.0.0.1:0', 'num.partitions': '2' } });
  });
  afterAll(async () => {
    await broker?.stop();
  });

  it('reports live and ready once the broker serves', async () => {
    expect((await fetch(url('/healthz'))).status).toBe(200);
    const ready = await fetch(url('/readyz'));
    expect(ready.status).toBe(200);
    expect(await ready.text()).toBe('ready\n');
    expect((await fetch(url('/nothing'))).status).toBe(404);
  });

  it('exports request, byte and partition metrics in Prometheus format', async () => {
    const produced = await kcat(['-b', broker.bootstrap, '-P', '-t', 'metered'], 'a\nb\nc\n');
    expect(produced.code, produced.stderr).toBe(0);
    const res = await fetch(url('/metrics'));
    expect(res.headers.get('content-type')).toMatch(/text\/plain/);
    const text = await res.text();
    expect(text).toMatch(/^runnel_requests_total\{api="Produce"\} [1-9]/m);
    expect(text).toMatch(/^runnel_requests_total\{api="Metadata"\} [1-9]/m);
    expect(text).toMatch(/^runnel_request_duration_seconds_bucket\{le="\+Inf",api="Produce"\} [1-9]/m);
    expect(text).toMatch(/^runnel_partitions 2$/m);
    expect(text).toMatch(/^runnel_under_replicated_partitions 0$/m);
    expect(text).toMatch(/^runnel_request_bytes_total [1-9]/m);
  });
});
