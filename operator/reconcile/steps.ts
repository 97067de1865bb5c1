// A reconcile is an ordered list of small named steps. Each one either is done (go on to the next)
// or asks to come back later; the first that asks ends the pass. Reading the list top to bottom
// tells the whole lifecycle.

export type StepResult = { kind: 'done' } | { kind: 'requeue'; afterMs: number; reason: string; message: string };

export interface Step<C> {
  name: string;
  run(ctx: C): Promise<StepResult>;
}

/** What a reconcile tells the work queue. The queue defines it: runtime/ sits below reconcile/. */
export type { ReconcileResult } from '../runtime/queue.js';

export const done: StepResult = { kind: 'done' };

export function requeue(afterMs: number, reason: string, message: string): StepResult {
  return { kind: 'requeue', afterMs, reason, message };
}

/** A step that threw, named so that status and logs say where. */
export class StepError extends Error {
  constructor(
    readonly step: string,
    cause: unknown,
    message: string,
  ) {
    super(`${step}: ${message}`, { cause });
  }
}

export async function runSteps<C>(
  steps: readonly Step<C>[],
  ctx: C,
  describe: (err: unknown) => string,
): Promise<StepResult> {
  for (const step of steps) {
    let result: StepResult;
    try {
      result = await step.run(ctx);
    } catch (err) {
      throw new StepError(step.name, err, describe(err));
    }
    if (result.kind === 'requeue') return result;
  }
  return done;
}
