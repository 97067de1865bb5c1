import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../runtime/clock.js';
import { silentLog } from '../test/fakes.js';
import { RackInitError, parseRackInitArgs, waitForRack, writeRackProperties } from './init.js';

const OPTIONS = {
  topologyKey: 'topology.kubernetes.io/zone',
  out: '/unused',
  pod: 'events-broker-0',
  namespace: 'prod',
};
const pod = (rack?: string): V1Pod => ({
  metadata: { name: 'events-broker-0', annotations: rack === undefined ? {} : { 'kafka.runnel.dev/rack': rack } },
  spec: { nodeName: 'n1', containers: [] },
});

describe('rack init container', () => {
  it('reads its pod from the downward API env and its flags from the args', () => {
    expect(
      parseRackInitArgs(['--topology-key', 'zone', '--out', '/run/r.properties'], {
        POD_NAME: 'p',
        POD_NAMESPACE: 'ns',
      }),
    ).toEqual({
      topologyKey: 'zone',
      out: '/run/r.properties',
      pod: 'p',
      namespace: 'ns',
    });
    expect(() => parseRackInitArgs(['--out', '/x'], { POD_NAME: 'p', POD_NAMESPACE: 'ns' })).toThrow(
      '--topology-key <value> is required',
    );
    expect(() => parseRackInitArgs(['--topology-key', 'z', '--out', '/x'], {})).toThrow('POD_NAME and POD_NAMESPACE');
  });

  it('waits through API errors and a missing annotation until the operator sets it', async () => {
    const answers: (() => V1Pod)[] = [
      () => {
        throw new Error('connection refused');
      },
      () => pod(),
      () => pod('zone-a'),
    ];
    let calls = 0;
    const clock = new ManualClock();
    const started = clock.now();
    const waiting = waitForRack(
      () => new Promise<V1Pod>((resolve) => resolve(answers[calls++]())),
      OPTIONS,
      silentLog,
      { pollMs: 1_000, clock },
    );
    await clock.advance(1_999);
    expect(calls).toBe(2);
    await clock.advance(1);
    expect(await waiting).toBe('zone-a');
    expect(calls).toBe(3);
    expect(clock.now() - started).toBe(2_000);
  });

  it('refuses a rack that is not a label value, rather than writing a broken config', async () => {
    await expect(
      waitForRack(() => Promise.resolve(pod('zone a\nnode.id=7')), OPTIONS, silentLog, { clock: new ManualClock() }),
    ).rejects.toThrow(RackInitError);
  });

  it('writes broker.rack as a properties file', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rack-'));
    const out = path.join(dir, 'rack.properties');
    writeRackProperties(out, 'zone-a');
    expect(fs.readFileSync(out, 'utf8')).toBe('broker.rack=zone-a\n');
    expect(fs.readdirSync(dir)).toEqual(['rack.properties']);
    fs.rmSync(dir, { recursive: true });
  });
});
