// The elections the active controller runs on its own, on its clock, as Kafka's QuorumController
// schedules them:
// - leader balancing (`auto.leader.rebalance.enable`, every
//   `leader.imbalance.check.interval.seconds`): a preferred election for every partition not led
//   by its first replica where that replica is in the ISR and can lead;
// - unclean elections (every `unclean.leader.election.interval.ms`): offline partitions of topics
//   with `unclean.leader.election.enable` take a live replica, for topics whose setting changed
//   after they went offline.
// A run decides at most MAX_ELECTIONS_PER_RUN elections; one that hit the cap runs again at once.
// Runs go through the controller's decision queue like every other change. They start when this
// node becomes the active controller and stop when it no longer is.

import type { Logger } from 'pino';
import type { Clock, Timer } from '../clock.js';
import type { LeaderElectionConfig } from '../config/broker-config.js';
import type { MetadataImage } from '../metadata/image.js';
import type { MetadataRecord } from '../metadata/records.js';
import { MAX_ELECTIONS_PER_RUN, balanceLeaders, electUncleanLeaders, type UncleanElection } from './leaders.js';
import { NotControllerError, type Commit, type Decide } from './topics.js';

/** Kafka delays an immediate rerun by 10 ms so that other queued work goes first. */
const RERUN_DELAY_MS = 10;

type Kind = 'balance' | 'unclean';

export class PeriodicElections {
  private readonly timers = new Map<Kind, Timer>();
  private readonly reruns = new Map<Kind, Timer>();
  private running = false;

  constructor(
    private readonly config: LeaderElectionConfig,
    private readonly image: () => MetadataImage,
    private readonly unclean: UncleanElection,
    private readonly decide: Decide,
    private readonly commit: Commit,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.stop();
    this.running = true;
    if (this.config.autoRebalanceEnable)
      this.timers.set(
        'balance',
        this.clock.every(this.config.imbalanceCheckIntervalMs, () => void this.run('balance')),
      );
    this.timers.set(
      'unclean',
      this.clock.every(this.config.uncleanCheckIntervalMs, () => void this.run('unclean')),
    );
  }

  stop(): void {
    this.running = false;
    for (const t of [...this.timers.values(), ...this.reruns.values()]) t.cancel();
    this.timers.clear();
    this.reruns.clear();
  }

  /** One run; resolves with whether it hit the cap (and so runs again). */
  async run(kind: Kind): Promise<boolean> {
    if (!this.running) return false;
    let capped = false;
    try {
      capped = await this.decide(async () => {
        const records = this.elections(kind);
        if (records.length === 0) return false;
        await this.commit(records);
        this.logger.info(
          { elections: records.length },
          kind === 'balance'
            ? 'moved leaderships back to preferred replicas (auto.leader.rebalance.enable)'
            : 'elected leaders of offline partitions outside their ISR (unclean.leader.election.enable): records the old ISR had may be lost',
        );
        return records.length >= MAX_ELECTIONS_PER_RUN;
      });
    } catch (err) {
      if (!(err instanceof NotControllerError)) this.logger.warn({ err, kind }, 'periodic leader elections failed');
      return false;
    }
    if (capped && this.running)
      this.reruns.set(
        kind,
        this.clock.after(RERUN_DELAY_MS, () => void this.run(kind)),
      );
    return capped;
  }

  private elections(kind: Kind): MetadataRecord[] {
    return kind === 'balance' ? balanceLeaders(this.image()) : electUncleanLeaders(this.image(), this.unclean);
  }
}
