// Lease-based leader election (coordination.k8s.io/v1), so two replicas of the operator can run:
// one reconciles, the other waits to take over when the leader's lease expires or is released.

import { CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { apiErrorMessage, isNotFound } from './kube.js';

export interface LeaseState {
  holderIdentity?: string | null;
  renewTime?: Date | string | null;
  leaseDurationSeconds?: number | null;
}

export type LeaseDecision = 'create' | 'renew' | 'takeOver' | 'wait';

/** What a candidate may do with the lease as it stands. */
export function leaseDecision(lease: LeaseState | undefined, identity: string, now: Date): LeaseDecision {
  if (!lease) return 'create';
  if (lease.holderIdentity === identity) return 'renew';
  if (!lease.holderIdentity || !lease.renewTime) return 'takeOver';
  const expiresAt = new Date(lease.renewTime).getTime() + (lease.leaseDurationSeconds ?? 0) * 1000;
  return now.getTime() > expiresAt ? 'takeOver' : 'wait';
}

export interface LeaderOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationSeconds: number;
  renewIntervalMs: number;
  log: Logger;
}

export class LeaderElector {
  private readonly api: CoordinationV1Api;
  private renewTimer: NodeJS.Timeout | undefined;
  private lastRenewMs = 0;
  private stopped = false;

  constructor(kc: KubeConfig, private readonly options: LeaderOptions) {
    this.api = kc.makeApiClient(CoordinationV1Api);
  }

  /** Resolves once this replica leads (false if stopped first); then keeps renewing, calling `onLost` if it cannot. */
  async acquire(onLost: () => void): Promise<boolean> {
    this.options.log.info({ lease: `${this.options.namespace}/${this.options.name}` }, 'waiting for leadership');
    while (!this.stopped && !(await this.tryAcquireOrRenew())) await sleep(this.options.renewIntervalMs);
    if (this.stopped) return false;
    this.options.log.info('leading');
    this.renewTimer = setInterval(() => {
      void this.tryAcquireOrRenew().then((ok) => {
        if (!ok && Date.now() - this.lastRenewMs > this.options.leaseDurationSeconds * 1000) {
          this.options.log.error('leadership lost: the lease could not be renewed in time');
          clearInterval(this.renewTimer);
          onLost();
        }
      });
    }, this.options.renewIntervalMs);
    return true;
  }

  /** Stops renewing and hands the lease back, so a standby takes over without waiting for expiry. */
  async release(): Promise<void> {
    this.stopped = true;
    clearInterval(this.renewTimer);
    if (this.lastRenewMs === 0) return;
    try {
      const lease = await this.api.readNamespacedLease({ name: this.options.name, namespace: this.options.namespace });
      if (lease.spec?.holderIdentity !== this.options.identity) return;
      lease.spec.holderIdentity = undefined;
      await this.api.replaceNamespacedLease({ name: this.options.name, namespace: this.options.namespace, body: lease });
    } catch (err) {
      this.options.log.warn({ error: apiErrorMessage(err) }, 'could not release the lease; the standby takes over when it expires');
    }
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, name, identity, leaseDurationSeconds } = this.options;
    const now = new V1MicroTime();
    try {
      let lease: V1Lease | undefined;
      try {
        lease = await this.api.readNamespacedLease({ name, namespace });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      const decision = leaseDecision(lease?.spec, identity, now);
      if (decision === 'wait') return false;
      if (decision === 'create') {
        await this.api.createNamespacedLease({
          namespace,
          body: { metadata: { name, namespace }, spec: { holderIdentity: identity, leaseDurationSeconds, acquireTime: now, renewTime: now, leaseTransitions: 0 } },
        });
      } else {
        const spec = lease!.spec!;
        if (decision === 'takeOver') {
          spec.acquireTime = now;
          spec.leaseTransitions = (spec.leaseTransitions ?? 0) + 1;
        }
        Object.assign(spec, { holderIdentity: identity, leaseDurationSeconds, renewTime: now });
        // The resourceVersion read above makes this fail if another replica wrote in between.
        await this.api.replaceNamespacedLease({ name, namespace, body: lease! });
      }
      this.lastRenewMs = now.getTime();
      return true;
    } catch (err) {
      this.options.log.warn({ error: apiErrorMessage(err) }, 'lease update failed');
      return false;
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
