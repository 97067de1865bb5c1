// Lease-based leader election (coordination.k8s.io/v1), so two replicas of the operator can run:
// one reconciles, the other waits to take over. The semantics are client-go's
// tools/leaderelection, and they rest on two rules that make the replicas' clocks irrelevant:
//
// - A candidate never reads the holder's renewTime. It measures the lease's expiry from the
//   moment IT last saw the lease record change, on its own clock, and takes over only after a
//   whole lease duration without a change (or at once, a lease released with no holder).
// - The leader stops leading when it has not renewed successfully within the renew deadline,
//   shorter than the lease duration and counted from the start of its last successful renewal.
//
// The renewal that the standby last saw was written after the leader started it, so the leader
// gives up (start + renew deadline) before the standby may take over (seen + lease duration).

import {
  CoordinationV1Api,
  V1MicroTime,
  type KubeConfig,
  type V1Lease,
  type V1LeaseSpec,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { Clock, TimerId } from './clock.js';
import { apiErrorMessage, isNotFound } from './kube.js';

/** One Lease object, read and written whole; `replace` must fail if it changed since it was read. */
export interface LeaseApi {
  read(): Promise<V1Lease | undefined>;
  /** Fails if the lease exists already. */
  create(spec: V1LeaseSpec): Promise<V1Lease>;
  replace(lease: V1Lease): Promise<V1Lease>;
}

export function kubeLeaseApi(kc: KubeConfig, namespace: string, name: string): LeaseApi {
  const api = kc.makeApiClient(CoordinationV1Api);
  return {
    async read() {
      try {
        return await api.readNamespacedLease({ name, namespace });
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
    create: (spec) => api.createNamespacedLease({ namespace, body: { metadata: { name, namespace }, spec } }),
    // The resourceVersion read with the lease makes a replace fail if another replica wrote in between.
    replace: (body) => api.replaceNamespacedLease({ name, namespace, body }),
  };
}

/** When a candidate last saw the lease record change, on its own clock. */
export interface Observation {
  /** The record as seen, serialised: any change of it (a renewal, a new holder) restarts the lease. */
  record: string;
  atMs: number;
}

/** Notes the lease record as read now: the observation time moves only if the record changed. */
export function observe(previous: Observation | undefined, spec: V1LeaseSpec | undefined, nowMs: number): Observation {
  const record = JSON.stringify([
    spec?.holderIdentity ?? null,
    spec?.leaseDurationSeconds ?? null,
    timeKey(spec?.acquireTime),
    timeKey(spec?.renewTime),
    spec?.leaseTransitions ?? null,
  ]);
  return previous?.record === record ? previous : { record, atMs: nowMs };
}

function timeKey(t: Date | string | undefined | null): string | null {
  return t == null ? null : new Date(t).toISOString();
}

export type LeaseDecision = 'create' | 'renew' | 'takeOver' | 'wait';

/**
 * What a candidate may do with the lease as it stands. `observedAtMs` is when it last saw the
 * record change and `nowMs` its own clock: the holder's renewTime plays no part.
 */
export function leaseDecision(
  spec: V1LeaseSpec | undefined,
  identity: string,
  observedAtMs: number,
  nowMs: number,
  defaultLeaseDurationSeconds: number,
): LeaseDecision {
  if (!spec) return 'create';
  if (spec.holderIdentity === identity) return 'renew';
  if (!spec.holderIdentity) return 'takeOver';
  const leaseMs = (spec.leaseDurationSeconds ?? defaultLeaseDurationSeconds) * 1000;
  return nowMs >= observedAtMs + leaseMs ? 'takeOver' : 'wait';
}

export interface LeaderOptions {
  /** "namespace/name" of the lease, for logs. */
  lease: string;
  identity: string;
  leaseDurationSeconds: number;
  /** A leader that has not renewed within this long stops leading; shorter than the lease duration. */
  renewDeadlineMs: number;
  /** How often a leader renews and a candidate tries to acquire. */
  retryPeriodMs: number;
  clock: Clock;
  log: Logger;
}

type Attempt = { ok: true } | { ok: false; heldBy?: string };

export class LeaderElector {
  private observation: Observation | undefined;
  /** When the last successful acquire or renew started, on our clock; undefined before we lead. */
  private renewedFromMs: number | undefined;
  private leading = false;
  private stopped = false;
  private retryTimer: TimerId | undefined;
  private deadlineTimer: TimerId | undefined;
  private onLost: (() => void) | undefined;

  constructor(
    private readonly api: LeaseApi,
    private readonly options: LeaderOptions,
  ) {
    if (options.renewDeadlineMs >= options.leaseDurationSeconds * 1000) {
      throw new Error(
        `the renew deadline (${options.renewDeadlineMs} ms) must be shorter than the lease (${options.leaseDurationSeconds} s)`,
      );
    }
    if (options.retryPeriodMs >= options.renewDeadlineMs) {
      throw new Error(
        `the retry period (${options.retryPeriodMs} ms) must be shorter than the renew deadline (${options.renewDeadlineMs} ms)`,
      );
    }
  }

  /** True while this replica may act as the leader. */
  get isLeader(): boolean {
    return this.leading;
  }

  /**
   * Resolves once this replica leads (false if stopped first); then keeps renewing, and calls
   * `onLost` once if it cannot renew within the renew deadline or sees another holder.
   */
  async acquire(onLost: () => void): Promise<boolean> {
    const { clock, log, retryPeriodMs, lease } = this.options;
    this.onLost = onLost;
    log.info({ lease }, 'waiting for leadership');
    while (!this.stopped) {
      if ((await this.tryAcquireOrRenew()).ok) break;
      if (!this.stopped) await clock.sleep(retryPeriodMs);
    }
    if (this.stopped) return false;
    this.leading = true;
    log.info({ lease }, 'leading');
    this.armDeadline();
    this.scheduleRenew();
    return true;
  }

  /** Stops renewing and hands the lease back, so a standby takes over without waiting for expiry. */
  async release(): Promise<void> {
    const wasLeading = this.leading;
    this.stopped = true;
    this.leading = false;
    this.clearTimers();
    if (!wasLeading) return;
    try {
      const current = await this.api.read();
      if (current?.spec?.holderIdentity !== this.options.identity) return;
      current.spec.holderIdentity = undefined;
      await this.api.replace(current);
    } catch (err) {
      this.options.log.warn(
        { error: apiErrorMessage(err) },
        'could not release the lease; the standby takes over when it expires',
      );
    }
  }

  private scheduleRenew(): void {
    this.retryTimer = this.options.clock.setTimeout(() => void this.renew(), this.options.retryPeriodMs);
  }

  private async renew(): Promise<void> {
    if (!this.leading) return;
    const attempt = await this.tryAcquireOrRenew();
    if (!this.leading) return;
    if (attempt.ok) {
      this.armDeadline();
    } else if (attempt.heldBy) {
      this.lose({ holder: attempt.heldBy }, 'leadership lost: another replica holds the lease');
      return;
    }
    this.scheduleRenew();
  }

  /** Steps down when the renew deadline passes, even while a renewal is still in flight. */
  private armDeadline(): void {
    const { clock, renewDeadlineMs } = this.options;
    if (this.deadlineTimer !== undefined) clock.clearTimeout(this.deadlineTimer);
    const remainingMs = this.renewedFromMs! + renewDeadlineMs - clock.now();
    this.deadlineTimer = clock.setTimeout(
      () => this.lose({ renewDeadlineMs }, 'leadership lost: the lease was not renewed within the renew deadline'),
      remainingMs,
    );
  }

  private lose(context: object, message: string): void {
    if (!this.leading) return;
    this.leading = false;
    this.clearTimers();
    this.options.log.error(context, message);
    this.onLost?.();
  }

  private clearTimers(): void {
    const { clock } = this.options;
    if (this.retryTimer !== undefined) clock.clearTimeout(this.retryTimer);
    if (this.deadlineTimer !== undefined) clock.clearTimeout(this.deadlineTimer);
    this.retryTimer = this.deadlineTimer = undefined;
  }

  private async tryAcquireOrRenew(): Promise<Attempt> {
    const { identity, leaseDurationSeconds, clock, log } = this.options;
    const startedMs = clock.now();
    const now = new V1MicroTime(startedMs);
    try {
      const lease = await this.api.read();
      this.observation = observe(this.observation, lease?.spec, clock.now());
      const decision = leaseDecision(lease?.spec, identity, this.observation.atMs, clock.now(), leaseDurationSeconds);
      if (decision === 'wait') return { ok: false, heldBy: lease?.spec?.holderIdentity ?? undefined };
      let written: V1Lease;
      if (decision === 'create') {
        written = await this.api.create({
          holderIdentity: identity,
          leaseDurationSeconds,
          acquireTime: now,
          renewTime: now,
          leaseTransitions: 0,
        });
      } else {
        const spec = lease!.spec!;
        if (decision === 'takeOver') {
          spec.acquireTime = now;
          spec.leaseTransitions = (spec.leaseTransitions ?? 0) + 1;
        }
        Object.assign(spec, { holderIdentity: identity, leaseDurationSeconds, renewTime: now });
        written = await this.api.replace(lease!);
      }
      this.observation = observe(this.observation, written.spec, clock.now());
      this.renewedFromMs = startedMs;
      return { ok: true };
    } catch (err) {
      log.warn({ error: apiErrorMessage(err) }, 'lease update failed');
      return { ok: false };
    }
  }
}
