// The replicated log as the quorum state machine sees it: entries with an offset and the epoch of
// the leader that wrote them, after an optional snapshot. The state machine only reads it
// (RaftLogReader); the host applies the state machine's append, truncate, deleteLogBefore and
// installSnapshot actions. MemoryLog is the in-memory implementation the unit tests and the
// simulator use; DiskRaftLog (disk-log.ts) keeps one in memory over `__cluster_metadata-0`.
//
// With a snapshot, the log starts at the snapshot's end offset S: entries below S are gone, and
// the snapshot id's epoch stands for the epoch of entry S-1, so epochAt(S-1), lastEpoch() of an
// otherwise empty log and the leader-epoch cache (endOffsetForEpoch) answer as if it were there.

/** What an entry holds: the control record a new leader writes, or an opaque client record. */
export type RaftRecord =
  /** Kafka's LeaderChangeMessage control record, written at the start of every epoch. */
  | { type: 'leaderChange'; leaderId: number; voters: number[]; grantingVoters: number[] }
  | { type: 'data'; value: unknown };

export interface LogEntry {
  offset: number;
  epoch: number;
  record: RaftRecord;
}

/** Kafka's OffsetAndEpoch: an end offset (exclusive) and the epoch it belongs to. */
export interface OffsetAndEpoch {
  offset: number;
  epoch: number;
}

/** A snapshot's bytes, read in chunks (FetchSnapshot). */
export interface SnapshotChunk {
  /** The whole snapshot's size in bytes. */
  size: number;
  bytes: Buffer;
}

export interface RaftLogReader {
  /** The offset the next entry gets (the log end offset). */
  endOffset(): number;
  /** The first offset the log holds entries from: the latest snapshot's end offset, 0 without one. */
  startOffset(): number;
  /** The latest snapshot (its end offset, exclusive, and the epoch of its last entry), null if none. */
  latestSnapshot(): OffsetAndEpoch | null;
  /** Up to `maxBytes` of the snapshot `id` from `position`; undefined when it is not the latest. */
  readSnapshot(id: OffsetAndEpoch, position: number, maxBytes: number): SnapshotChunk | undefined;
  /** The epoch of the last entry (the snapshot's epoch when none follows it), 0 for an empty log. */
  lastEpoch(): number;
  /** The epoch of the entry at `offset` (the snapshot's at startOffset - 1), undefined outside the log. */
  epochAt(offset: number): number | undefined;
  /** Up to `maxEntries` entries from `fromOffset` (≥ startOffset). */
  read(fromOffset: number, maxEntries: number): LogEntry[];
  /**
   * The leader-epoch cache lookup (Kafka's endOffsetForEpoch): the largest epoch in the log that
   * is ≤ `epoch`, and the offset where it ends (the start of the next epoch, or the log end).
   * The snapshot's epoch counts as an epoch ending no earlier than the snapshot's end offset.
   * `{epoch: 0, offset: 0}` when the log holds no such epoch.
   */
  endOffsetForEpoch(epoch: number): OffsetAndEpoch;
}

export class MemoryLog implements RaftLogReader {
  /** entries[i] is the entry at offset start + i. */
  private entries: LogEntry[] = [];
  private start = 0;
  private snapshot: { id: OffsetAndEpoch; data: Buffer } | null = null;
  /**
   * Leader-epoch cache: the first offset of each epoch in the log, epochs ascending. With a
   * snapshot, its first element is the snapshot's epoch at the log start (it never goes).
   */
  private epochStarts: { epoch: number; startOffset: number }[] = [];

  constructor(entries: readonly LogEntry[] = []) {
    for (const e of entries) this.append([e]);
  }

  endOffset(): number {
    return this.start + this.entries.length;
  }

  startOffset(): number {
    return this.start;
  }

  latestSnapshot(): OffsetAndEpoch | null {
    return this.snapshot ? { ...this.snapshot.id } : null;
  }

  /** The latest snapshot's id and bytes, null if none. */
  snapshotData(): { id: OffsetAndEpoch; data: Buffer } | null {
    return this.snapshot;
  }

  readSnapshot(id: OffsetAndEpoch, position: number, maxBytes: number): SnapshotChunk | undefined {
    const s = this.snapshot;
    if (!s || s.id.offset !== id.offset || s.id.epoch !== id.epoch) return undefined;
    return { size: s.data.length, bytes: s.data.subarray(position, position + Math.max(0, maxBytes)) };
  }

  lastEpoch(): number {
    return this.epochStarts.length === 0 ? 0 : this.epochStarts[this.epochStarts.length - 1].epoch;
  }

  epochAt(offset: number): number | undefined {
    if (this.snapshot && offset === this.start - 1) return this.snapshot.id.epoch;
    return this.entries[offset - this.start]?.epoch;
  }

  entryAt(offset: number): LogEntry | undefined {
    return offset < this.start ? undefined : this.entries[offset - this.start];
  }

  read(fromOffset: number, maxEntries: number): LogEntry[] {
    if (fromOffset < this.start) throw new Error(`read from ${fromOffset}, below the log start ${this.start}`);
    return this.entries.slice(fromOffset - this.start, fromOffset - this.start + maxEntries);
  }

  all(): readonly LogEntry[] {
    return this.entries;
  }

  endOffsetForEpoch(epoch: number): OffsetAndEpoch {
    let i = this.epochStarts.length - 1;
    while (i >= 0 && this.epochStarts[i].epoch > epoch) i--;
    if (i < 0) return { epoch: 0, offset: 0 };
    const next = this.epochStarts[i + 1];
    return { epoch: this.epochStarts[i].epoch, offset: next ? next.startOffset : this.endOffset() };
  }

  /** Appends entries that must continue the log: consecutive offsets, epochs never decreasing. */
  append(entries: readonly LogEntry[]): void {
    for (const e of entries) {
      if (e.offset !== this.endOffset())
        throw new Error(`append at offset ${e.offset}, log end is ${this.endOffset()}`);
      const last = this.lastEpoch();
      if (e.epoch < last) throw new Error(`append of epoch ${e.epoch} after epoch ${last}`);
      if (e.epoch > last || this.epochStarts.length === 0)
        this.epochStarts.push({ epoch: e.epoch, startOffset: e.offset });
      this.entries.push(e);
    }
  }

  /** Removes every entry at or after `offset` (never below the log start). */
  truncateTo(offset: number): void {
    if (offset >= this.endOffset()) return;
    if (offset < this.start) throw new Error(`truncate to ${offset}, below the log start ${this.start}`);
    this.entries.length = offset - this.start;
    const keep = this.snapshot ? 1 : 0;
    while (this.epochStarts.length > keep && this.epochStarts[this.epochStarts.length - 1].startOffset >= offset)
      this.epochStarts.pop();
  }

  /**
   * Takes `id` as the latest snapshot (its bytes `data`) and drops the entries below its end
   * offset, which must lie within the log and end with an entry of the snapshot's epoch.
   */
  snapshotAndDeleteBefore(id: OffsetAndEpoch, data: Buffer): void {
    if (id.offset < this.start || id.offset > this.endOffset())
      throw new Error(`snapshot at ${id.offset} outside the log [${this.start}, ${this.endOffset()}]`);
    const epoch = this.epochAt(id.offset - 1);
    if (id.offset > 0 && epoch !== id.epoch)
      throw new Error(`snapshot ${id.offset}@${id.epoch}, but entry ${id.offset - 1} has epoch ${epoch}`);
    const later = this.epochStarts.filter((x) => x.startOffset >= id.offset && x.epoch > id.epoch);
    this.entries = this.entries.slice(id.offset - this.start);
    this.start = id.offset;
    this.snapshot = { id: { ...id }, data };
    this.epochStarts = [{ epoch: id.epoch, startOffset: id.offset }, ...later];
  }

  /** Installs a snapshot fetched from the leader: every entry goes, the log starts again at its end offset. */
  resetToSnapshot(id: OffsetAndEpoch, data: Buffer): void {
    this.entries = [];
    this.start = id.offset;
    this.snapshot = { id: { ...id }, data };
    this.epochStarts = [{ epoch: id.epoch, startOffset: id.offset }];
  }
}
