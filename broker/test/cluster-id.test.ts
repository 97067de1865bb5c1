import { describe, expect, it } from 'vitest';
import { newDataDir, startBroker } from './broker-process.js';

const CLUSTER_A = 'AAAAAAAAAAAAAAAAAAAAAA';
const CLUSTER_B = 'BBBBBBBBBBBBBBBBBBBBBB';

describe('runnel.cluster.id', () => {
  it("keeps a broker off a log dir that holds another cluster's data", async () => {
    const dataDir = await newDataDir();
    const first = await startBroker({ dataDir, overrides: { 'runnel.cluster.id': CLUSTER_A } });
    expect(await first.stop()).toBe(0);

    const again = await startBroker({ dataDir, overrides: { 'runnel.cluster.id': CLUSTER_A } });
    expect(await again.stop()).toBe(0);

    await expect(startBroker({ dataDir, overrides: { 'runnel.cluster.id': CLUSTER_B } })).rejects.toThrow(
      new RegExp(`holds data of cluster ${CLUSTER_A}, not ${CLUSTER_B}`),
    );
  });
});
