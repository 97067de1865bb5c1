import { describe, expect, it } from 'vitest';
import { mergeConditions, sameStatus } from './conditions.js';

const T0 = new Date('2026-01-01T00:00:00Z');
const T1 = new Date('2026-01-01T00:05:00Z');

describe('conditions', () => {
  it('keep their transition time while the status stays the same', () => {
    const first = mergeConditions(
      undefined,
      [{ type: 'Ready', status: 'False', reason: 'Starting', message: 'a' }],
      T0,
    );
    const second = mergeConditions(first, [{ type: 'Ready', status: 'False', reason: 'Waiting', message: 'b' }], T1);
    expect(second[0]).toMatchObject({ reason: 'Waiting', lastTransitionTime: T0.toISOString() });
  });

  it('move their transition time when the status flips', () => {
    const first = mergeConditions(undefined, [{ type: 'Ready', status: 'False', reason: 'Starting', message: '' }], T0);
    const second = mergeConditions(first, [{ type: 'Ready', status: 'True', reason: 'Ready', message: '' }], T1);
    expect(second[0].lastTransitionTime).toBe(T1.toISOString());
  });

  it('a status rebuilt from the same facts is the same status', () => {
    const conditions = mergeConditions(
      undefined,
      [{ type: 'Ready', status: 'True', reason: 'Ready', message: '' }],
      T0,
    );
    const stored = { observedGeneration: 2, conditions, topicId: undefined };
    const rebuilt = {
      topicId: undefined,
      conditions: mergeConditions(conditions, [{ type: 'Ready', status: 'True', reason: 'Ready', message: '' }], T1),
      observedGeneration: 2,
    };
    expect(sameStatus(stored, rebuilt)).toBe(true);
    expect(sameStatus(stored, { ...rebuilt, observedGeneration: 3 })).toBe(false);
  });
});
