import { describe, expect, it } from 'vitest';
import { leaseDecision } from './leader.js';

const now = new Date('2026-02-01T00:01:00Z');

describe('lease decision', () => {
  it('creates a lease nobody holds yet', () => {
    expect(leaseDecision(undefined, 'a', now)).toBe('create');
  });

  it('renews its own lease', () => {
    expect(leaseDecision({ holderIdentity: 'a', renewTime: '2026-02-01T00:00:59Z', leaseDurationSeconds: 15 }, 'a', now)).toBe('renew');
  });

  it('waits while another holder renews in time', () => {
    expect(leaseDecision({ holderIdentity: 'b', renewTime: '2026-02-01T00:00:50Z', leaseDurationSeconds: 15 }, 'a', now)).toBe('wait');
  });

  it('takes over an expired or released lease', () => {
    expect(leaseDecision({ holderIdentity: 'b', renewTime: '2026-02-01T00:00:30Z', leaseDurationSeconds: 15 }, 'a', now)).toBe('takeOver');
    expect(leaseDecision({ holderIdentity: undefined, renewTime: '2026-02-01T00:00:59Z', leaseDurationSeconds: 15 }, 'a', now)).toBe('takeOver');
  });
});
