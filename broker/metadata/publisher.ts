// Applies the committed entries of the metadata log to this node's image, in order, and tells
// whoever acts on metadata (the broker's partitions and groups, the controller) what changed; or
// replaces the image with a snapshot's, telling them the same way.

import type { LogEntry } from '../raft/log.js';
import { MetadataDelta, MetadataImage } from './image.js';
import type { LeaderChange, MetadataRecord } from './records.js';

export interface MetadataSubscriber {
  /** Called after each applied batch of entries that changed something. */
  changed(delta: MetadataDelta, image: MetadataImage): void;
}

export class MetadataPublisher {
  readonly image = new MetadataImage();
  /** The quorum's commit point as last heard: the image is caught up when it reaches it. */
  highWatermark = 0;
  private readonly subscribers: MetadataSubscriber[] = [];
  private waiters: { offset: number; resolve: () => void }[] = [];
  private caughtUpWaiters: { check: () => boolean; resolve: () => void }[] = [];
  private readonly leaderChangeListeners: ((change: LeaderChange & { epoch: number; offset: number }) => void)[] = [];

  subscribe(s: MetadataSubscriber): void {
    this.subscribers.push(s);
  }

  onLeaderChange(listener: (change: LeaderChange & { epoch: number; offset: number }) => void): void {
    this.leaderChangeListeners.push(listener);
  }

  apply(entries: readonly LogEntry[], highWatermark: number): void {
    this.highWatermark = Math.max(this.highWatermark, highWatermark);
    const delta = new MetadataDelta();
    for (const e of entries) {
      if (e.record.type === 'data') this.image.apply(e.record.value as never, delta);
      this.image.appliedOffset = e.offset + 1;
      if (e.record.type === 'leaderChange') {
        const { leaderId, voters, grantingVoters } = e.record;
        for (const l of this.leaderChangeListeners)
          l({ leaderId, voters, grantingVoters, epoch: e.epoch, offset: e.offset });
      }
    }
    if (!delta.isEmpty) for (const s of this.subscribers) s.changed(delta, this.image);
    this.settle();
  }

  /** Resolves the waiters the image has now caught up with. */
  private settle(): void {
    const due = this.waiters.filter((w) => w.offset <= this.image.appliedOffset);
    this.waiters = this.waiters.filter((w) => w.offset > this.image.appliedOffset);
    for (const w of due) w.resolve();
    const ready = this.caughtUpWaiters.filter((w) => w.check());
    this.caughtUpWaiters = this.caughtUpWaiters.filter((w) => !w.check());
    for (const w of ready) w.resolve();
  }

  /**
   * Replaces the image with a snapshot's records, as of `offset` (its end offset): at start-up,
   * and when this node fetched the leader's snapshot because it was too far behind.
   */
  loadSnapshot(records: readonly MetadataRecord[], offset: number): void {
    this.highWatermark = Math.max(this.highWatermark, offset);
    const delta = this.image.loadSnapshot(records, offset);
    for (const s of this.subscribers) s.changed(delta, this.image);
    this.settle();
  }

  /**
   * Resolves once the image holds the bootstrap records and everything the quorum had committed
   * when this node last heard: a broker serves nothing before.
   */
  caughtUp(): Promise<void> {
    return new Promise((resolve) => {
      const check = () => this.image.metadataVersion > 0 && this.image.appliedOffset >= this.highWatermark;
      if (check()) return resolve();
      this.caughtUpWaiters.push({ check, resolve });
    });
  }

  /** Resolves once every entry below `offset` is applied. */
  applied(offset: number): Promise<void> {
    if (offset <= this.image.appliedOffset) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ offset, resolve }));
  }
}
