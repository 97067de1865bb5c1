import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.js';

describe('operator configuration', () => {
  it('has defaults for everything but the images', () => {
    const config = loadConfig({
      RUNNEL_BROKER_IMAGE: 'runnel/broker:1',
      RUNNEL_OPERATOR_IMAGE: 'runnel/operator:1',
      POD_NAME: 'op-1',
      POD_NAMESPACE: 'runnel-system',
    });
    expect(config).toMatchObject({
      watchNamespaces: [],
      identity: 'op-1',
      namespace: 'runnel-system',
      leaderElection: true,
      httpPort: 8080,
      clusterDomain: 'cluster.local',
    });
  });

  it('reads the watched namespaces as a list', () => {
    expect(
      loadConfig({ RUNNEL_BROKER_IMAGE: 'i', RUNNEL_OPERATOR_IMAGE: 'o', WATCH_NAMESPACES: 'a, b,' }).watchNamespaces,
    ).toEqual(['a', 'b']);
  });

  it('names every bad variable at once', () => {
    let message = '';
    try {
      loadConfig({ HTTP_PORT: 'x', LEADER_ELECTION: 'yes', LOG_LEVEL: 'loud' });
    } catch (err) {
      message = (err as Error).message;
    }
    for (const problem of [
      'HTTP_PORT=x: expected an integer',
      'LEADER_ELECTION=yes: expected true or false',
      'LOG_LEVEL=loud',
      'RUNNEL_BROKER_IMAGE is not set',
      'RUNNEL_OPERATOR_IMAGE is not set',
    ]) {
      expect(message).toContain(problem);
    }
  });
});
