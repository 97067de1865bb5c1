// The leader-epoch cache (Kafka's LeaderEpochFileCache): for every leader epoch that wrote to
// this partition, the offset of its first record. A follower asks the leader where the epoch of
// its last record ended (Fetch's lastFetchedEpoch, OffsetForLeaderEpoch) and truncates there if
// its own log went on past that point: the records after it were written by a leader that lost.
//
// Kept in `leader-epoch-checkpoint` in the partition directory, in Kafka's checkpoint format
// (`<epoch> <startOffset>` per entry), written whenever it changes.

import { offsetField, readCheckpointFile, writeCheckpointFile } from './offset-checkpoint.js';

export const LEADER_EPOCH_CHECKPOINT = 'leader-epoch-checkpoint';
export const UNDEFINED_EPOCH = -1;

export interface EpochEntry {
  epoch: number;
  startOffset: number;
}

export class LeaderEpochCache {
  private entries: EpochEntry[];

  constructor(entries: EpochEntry[] = []) {
    this.entries = entries;
  }

  get latestEpoch(): number {
    return this.entries.at(-1)?.epoch ?? UNDEFINED_EPOCH;
  }

  /** The first offset written at `epoch`, if the log holds records of it. */
  startOffsetOf(epoch: number): number | undefined {
    return this.entries.find((e) => e.epoch === epoch)?.startOffset;
  }

  all(): readonly EpochEntry[] {
    return this.entries;
  }

  /**
   * Records that `epoch` starts writing at `startOffset`; false (nothing changed) when the epoch
   * is not newer than the latest. An older epoch showing up is a batch copied from a leader that
   * already had it: it was recorded then.
   */
  assign(epoch: number, startOffset: number): boolean {
    if (epoch < 0 || epoch <= this.latestEpoch) return false;
    // An entry starting at or after this one belongs to records a truncation removed.
    this.entries = this.entries.filter((e) => e.startOffset < startOffset);
    this.entries.push({ epoch, startOffset });
    return true;
  }

  /**
   * Kafka's endOffsetForEpoch: the largest epoch at or below `epoch` that this log holds, and the
   * offset where it ended (the next epoch's start, or the log end for the latest). Undefined
   * epoch and offset when every epoch here is newer.
   */
  endOffsetFor(epoch: number, logEndOffset: number): { epoch: number; endOffset: number } {
    let found = -1;
    for (let i = 0; i < this.entries.length && this.entries[i].epoch <= epoch; i++) found = i;
    if (found < 0) return { epoch: UNDEFINED_EPOCH, endOffset: UNDEFINED_EPOCH };
    const next = this.entries[found + 1];
    return { epoch: this.entries[found].epoch, endOffset: next ? next.startOffset : logEndOffset };
  }

  /** Forgets the epochs that start at or after `endOffset` (the log was truncated there). */
  truncateFromEnd(endOffset: number): boolean {
    const kept = this.entries.filter((e) => e.startOffset < endOffset);
    if (kept.length === this.entries.length) return false;
    this.entries = kept;
    return true;
  }

  /** The log now starts at `startOffset`: earlier epochs go, the one covering it starts there. */
  truncateFromStart(startOffset: number): boolean {
    let covering = -1;
    for (let i = 0; i < this.entries.length && this.entries[i].startOffset <= startOffset; i++) covering = i;
    if (covering < 0 || (covering === 0 && this.entries[0].startOffset === startOffset)) return false;
    const kept = this.entries.slice(covering);
    kept[0] = { epoch: kept[0].epoch, startOffset };
    this.entries = kept;
    return true;
  }
}

/** The cache from the partition directory; null when there is no file or it cannot be read as Kafka's format. */
export async function readLeaderEpochCheckpoint(dir: string): Promise<LeaderEpochCache | null> {
  const entries = await readCheckpointFile(dir, LEADER_EPOCH_CHECKPOINT, ([epoch, startOffset, ...rest]) => {
    const e = offsetField(epoch);
    const o = offsetField(startOffset);
    return e !== undefined && o !== undefined && rest.length === 0 ? { epoch: e, startOffset: o } : undefined;
  });
  if (entries instanceof Error || entries.length === 0) return null;
  const ordered = entries.every(
    (e, i) => i === 0 || (e.epoch > entries[i - 1].epoch && e.startOffset >= entries[i - 1].startOffset),
  );
  return ordered ? new LeaderEpochCache(entries) : null;
}

/** Replaces the file (written before the batches of a new epoch; see PartitionLog.writeGroup). */
export function writeLeaderEpochCheckpoint(dir: string, cache: LeaderEpochCache): Promise<void> {
  return writeCheckpointFile(
    dir,
    LEADER_EPOCH_CHECKPOINT,
    cache.all().map((e) => `${e.epoch} ${e.startOffset}`),
  );
}
