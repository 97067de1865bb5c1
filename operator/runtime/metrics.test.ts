import { describe, expect, it } from 'vitest';
import { OperatorMetrics } from './metrics.js';

describe('operator metrics', () => {
  it('shows a scaling’s phase, partitions by state and bytes planned and moved', async () => {
    const metrics = new OperatorMetrics();
    metrics.recordScaling('prod', 'events', {
      phase: 'MovingReplicas',
      fromBrokers: 3,
      toBrokers: 5,
      plan: { partitions: 40, replicaMoves: 66, lowerBound: 66, bytes: 5_000 },
      progress: { pending: 20, moving: 8, done: 12, bytesMoved: 1_500 },
    });
    const text = await metrics.registry.metrics();
    expect(text).toContain('runnel_operator_scaling_phase{namespace="prod",cluster="events",phase="MovingReplicas"} 1');
    expect(text).toContain('runnel_operator_scaling_phase{namespace="prod",cluster="events",phase="Balanced"} 0');
    expect(text).toContain('runnel_operator_scaling_partitions{namespace="prod",cluster="events",state="pending"} 20');
    expect(text).toContain('runnel_operator_scaling_partitions{namespace="prod",cluster="events",state="moving"} 8');
    expect(text).toContain('runnel_operator_scaling_bytes{namespace="prod",cluster="events",state="moved"} 1500');
    expect(text).toContain('runnel_operator_scaling_bytes{namespace="prod",cluster="events",state="planned"} 5000');
  });
});
