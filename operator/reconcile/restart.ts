// Which broker to restart next when the StatefulSet has a new revision (its pods restart only when
// the operator deletes them). One broker at a time, in ordinal order, the active controller last so
// that the quorum's leadership moves once; only when every broker is ready, while the metadata
// quorum has a leader, and when the next broker can roll (availability.ts: no partition it holds
// would fall, or is already, below min.insync.replicas). Until it can, the plan waits for it rather
// than taking another. A broker that is outdated and not ready serves nothing and may be stuck on
// its old config, so it goes first without waiting.

import type { ClusterHealth } from '../kafka/admin.js';
import { describeBlockers, rollBlockers } from './availability.js';
import { byOrdinal, type BrokerPod } from './brokers.js';

export type RestartPlan =
  | { kind: 'upToDate' }
  | { kind: 'wait'; message: string }
  /** Everything else allows a restart: ask the brokers whether their partitions do too. */
  | { kind: 'checkHealth' }
  | { kind: 'restart'; pod: BrokerPod; message: string };

export function planRestart(
  brokers: readonly BrokerPod[],
  updateRevision: string,
  health?: ClusterHealth,
): RestartPlan {
  const outdated = brokers.filter((b) => b.revision !== updateRevision).sort(byOrdinal);
  if (outdated.length === 0) return { kind: 'upToDate' };
  const terminating = brokers.find((b) => b.state === 'Terminating');
  if (terminating) return { kind: 'wait', message: `waiting for broker ${terminating.ordinal} to stop` };
  const stuck = outdated.find((b) => b.state !== 'Ready');
  if (stuck)
    return {
      kind: 'restart',
      pod: stuck,
      message: `restarting broker ${stuck.ordinal}, not ready on the old revision`,
    };
  const notReady = brokers.find((b) => b.state !== 'Ready');
  if (notReady) return { kind: 'wait', message: `waiting for broker ${notReady.ordinal} to become ready` };
  if (!health) return { kind: 'checkHealth' };
  // A broker going now could leave the voters without a majority while they elect a leader.
  if (health.controllerId < 0) return { kind: 'wait', message: 'waiting for the metadata quorum to elect a leader' };
  const next = outdated.find((b) => b.ordinal !== health.controllerId) ?? outdated[0];
  const blockers = rollBlockers(next.ordinal, health.partitions);
  if (blockers.length > 0) return { kind: 'wait', message: describeBlockers(next.ordinal, blockers) };
  const role = next.ordinal === health.controllerId ? ', the active controller, last' : '';
  return {
    kind: 'restart',
    pod: next,
    message: `restarting broker ${next.ordinal}${role} (${outdated.length} of ${brokers.length} to go)`,
  };
}
