// Kubernetes-style conditions: lastTransitionTime moves only when a condition's status flips,
// so a status rebuilt from the same facts is equal to the stored one and is not written again.

import { isDeepStrictEqual } from 'node:util';
import type { Condition } from './types.js';

export type ConditionInput = Omit<Condition, 'lastTransitionTime'>;

/** The conditions to store: `next`, each carrying its previous transition time when unchanged. */
export function mergeConditions(
  previous: readonly Condition[] | undefined,
  next: readonly ConditionInput[],
  now: Date,
): Condition[] {
  return next.map((c) => {
    const old = previous?.find((p) => p.type === c.type);
    const lastTransitionTime =
      old && old.status === c.status && old.lastTransitionTime ? old.lastTransitionTime : now.toISOString();
    return { ...c, lastTransitionTime };
  });
}

export function findCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

/** Whether two statuses say the same thing (undefined fields count as absent). */
export function sameStatus(a: object | undefined, b: object | undefined): boolean {
  return isDeepStrictEqual(JSON.parse(JSON.stringify(a ?? {})), JSON.parse(JSON.stringify(b ?? {})));
}
