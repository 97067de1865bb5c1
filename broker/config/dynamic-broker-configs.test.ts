import { describe, expect, it } from 'vitest';
import {
  brokerConfigSynonyms,
  checkBrokerResourceName,
  dynamicBrokerValue,
  planBrokerConfigChanges,
} from './dynamic-broker-configs.js';

const none = new Map<string, string>();

describe('dynamic broker configs', () => {
  it('a broker resolves a key through its own dynamic value, the cluster default, server.properties, the default', () => {
    const layers = {
      perBroker: new Map([['log.retention.ms', '1000']]),
      clusterDefault: new Map([['log.retention.ms', '2000']]),
      static: new Map([['log.retention.ms', '3000']]),
    };
    expect(brokerConfigSynonyms('log.retention.ms', layers).map((s) => [s.source, s.value])).toEqual([
      ['DYNAMIC_BROKER_CONFIG', '1000'],
      ['DYNAMIC_DEFAULT_BROKER_CONFIG', '2000'],
      ['STATIC_BROKER_CONFIG', '3000'],
    ]);
    expect(brokerConfigSynonyms('min.insync.replicas', layers)).toEqual([
      { name: 'min.insync.replicas', value: '1', source: 'DEFAULT_CONFIG' },
    ]);
    expect(dynamicBrokerValue('log.retention.ms', { ...layers, perBroker: none })).toEqual({
      value: '2000',
      source: 'DYNAMIC_DEFAULT_BROKER_CONFIG',
    });
    expect(dynamicBrokerValue('log.retention.ms', { perBroker: none, clusterDefault: none })).toBeUndefined();
  });

  it('an unknown key is refused with its name and the closest known key', () => {
    const plan = planBrokerConfigChanges(none, [{ name: 'log.retention.mss', op: 'set', value: '1' }], false);
    expect(plan).toEqual({
      ok: false,
      problem: 'Unknown broker config name: log.retention.mss (did you mean log.retention.ms?)',
    });
  });

  it('a key read only at start-up is refused, naming it and server.properties', () => {
    const plan = planBrokerConfigChanges(none, [{ name: 'log.dirs', op: 'set', value: '/tmp/x' }], false);
    expect(plan.ok).toBe(false);
    if (!plan.ok) {
      expect(plan.problem).toContain('Cannot update these configs dynamically: log.dirs');
      expect(plan.problem).toContain('server.properties');
      expect(plan.problem).toContain('restart');
    }
    const deleted = planBrokerConfigChanges(none, [{ name: 'node.id', op: 'delete', value: null }], false);
    expect(deleted.ok).toBe(false);
  });

  it("a value is checked against its key's type and bounds", () => {
    const bad = planBrokerConfigChanges(none, [{ name: 'min.insync.replicas', op: 'set', value: '0' }], false);
    expect(bad).toEqual({
      ok: false,
      problem: 'Invalid value 0 for configuration min.insync.replicas: must be at least 1',
    });
    const notLong = planBrokerConfigChanges(
      none,
      [{ name: 'leader.replication.throttled.rate', op: 'set', value: 'fast' }],
      false,
    );
    expect(notLong.ok).toBe(false);
  });

  it('changes become the differences from the current values; one bad change refuses them all', () => {
    const current = new Map([
      ['log.retention.ms', '1000'],
      ['compression.type', 'lz4'],
    ]);
    const plan = planBrokerConfigChanges(
      current,
      [
        { name: 'log.retention.ms', op: 'set', value: '1000' },
        { name: 'compression.type', op: 'delete', value: null },
        { name: 'follower.replication.throttled.rate', op: 'set', value: '10485760' },
      ],
      false,
    );
    expect(plan).toEqual({
      ok: true,
      changes: new Map([
        ['compression.type', null],
        ['follower.replication.throttled.rate', '10485760'],
      ]),
    });
    const refused = planBrokerConfigChanges(
      current,
      [
        { name: 'compression.type', op: 'delete', value: null },
        { name: 'listeners', op: 'set', value: 'PLAINTEXT://:1' },
      ],
      false,
    );
    expect(refused.ok).toBe(false);
  });

  it('legacy AlterConfigs replaces every dynamic value: keys not listed are removed', () => {
    const current = new Map([['log.retention.ms', '1000']]);
    const plan = planBrokerConfigChanges(current, [{ name: 'compression.type', op: 'set', value: 'zstd' }], true);
    expect(plan).toEqual({
      ok: true,
      changes: new Map([
        ['log.retention.ms', null],
        ['compression.type', 'zstd'],
      ]),
    });
  });

  it('APPEND and SUBTRACT need a list key', () => {
    const plan = planBrokerConfigChanges(none, [{ name: 'log.cleanup.policy', op: 'append', value: 'compact' }], false);
    expect(plan).toEqual({ ok: true, changes: new Map([['log.cleanup.policy', 'delete,compact']]) });
    const notList = planBrokerConfigChanges(none, [{ name: 'log.retention.ms', op: 'append', value: '1' }], false);
    expect(notList.ok).toBe(false);
  });

  it('a BROKER resource is a node id or the empty cluster default', () => {
    expect(checkBrokerResourceName('')).toBeUndefined();
    expect(checkBrokerResourceName('3')).toBeUndefined();
    expect(checkBrokerResourceName('-1')).toContain('Invalid broker name');
    expect(checkBrokerResourceName('broker-1')).toContain('Invalid broker name');
  });
});
