import { describe, expect, it } from 'vitest';
import { ManualClock } from '../clock.js';
import { ByteRate, namesReplica } from './quotas.js';

describe('replication throttles', () => {
  it('measure bytes per second over the window, counting at least ten seconds of it', () => {
    const clock = new ManualClock(0);
    const rate = new ByteRate(clock);
    rate.record(10_000_000);
    // A burst at the start is spread over the minimum window, as Kafka's Rate does.
    expect(rate.perSecond()).toBe(1_000_000);
    clock.advance(20_000);
    rate.record(5_000);
    for (let s = 0; s < 10; s++) {
      clock.advance(1000);
      rate.record(5_000);
    }
    expect(rate.perSecond()).toBeCloseTo(5_500, -1);
  });

  it('name replicas as Kafka’s throttled-replicas lists do', () => {
    expect(namesReplica('*', 3, 7)).toBe(true);
    expect(namesReplica('0:1, 3:7', 3, 7)).toBe(true);
    expect(namesReplica('0:1,3:7', 3, 1)).toBe(false);
    expect(namesReplica('', 0, 1)).toBe(false);
  });
});
