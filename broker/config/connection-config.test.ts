// Kafka's connection keys: connections.max.idle.ms, max.connections.per.ip and its overrides.

import { describe, expect, it } from 'vitest';
import { loadBrokerConfig } from './broker-config.js';

const load = (...overrides: string[]) =>
  loadBrokerConfig({ argv: overrides.flatMap((o) => ['--override', o]), env: {}, cwd: '/' }).config;

describe('connection configuration', () => {
  it("defaults to Kafka's: idle connections closed after 10 minutes, no per-address limit", () => {
    const config = load();
    expect(config.connectionsMaxIdleMs).toBe(600_000);
    expect(config.maxConnectionsPerIp).toBe(2147483647);
    expect(config.maxConnectionsPerIpOverrides.size).toBe(0);
    expect(config.get('max.connections.per.ip.overrides')).toBe('');
  });

  it('reads the overrides in Kafka form, IPv6 addresses included, and -1 as never closing idle connections', () => {
    const config = load(
      'max.connections.per.ip.overrides=10.0.0.5:200, broker-1.example:5,::1:7,[fe80::1]:3',
      'connections.max.idle.ms=-1',
      'max.connections.per.ip=0',
    );
    expect([...config.maxConnectionsPerIpOverrides]).toEqual([
      ['10.0.0.5', 200],
      ['broker-1.example', 5],
      ['::1', 7],
      ['fe80::1', 3],
    ]);
    expect(config.connectionsMaxIdleMs).toBeNull();
    expect(config.maxConnectionsPerIp).toBe(0);
  });

  it('refuses bad values, saying what is accepted', () => {
    expect(() => load('max.connections.per.ip.overrides=10.0.0.5=200')).toThrow(
      /max.connections.per.ip.overrides=10.0.0.5=200 .*must be host:count pairs separated by commas.*bad: "10.0.0.5=200"/,
    );
    expect(() => load('max.connections.per.ip.overrides=a:1,b:-2,:3')).toThrow(/bad: "b:-2", ":3"/);
    expect(() => load('connections.max.idle.ms=0')).toThrow(
      /connections.max.idle.ms=0 .*must be at least 1, or -1 to never close idle connections/,
    );
    expect(() => load('max.connections.per.ip=-1')).toThrow(/max.connections.per.ip=-1 .*must be at least 0/);
    expect(() => load('max.connections.per.ip=0')).toThrow(
      /max.connections.per.ip=0 refuses every client: .*max.connections.per.ip.overrides/,
    );
  });
});
