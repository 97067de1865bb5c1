// The replicated log as the quorum state machine sees it: entries with an offset and the epoch of
// the leader that wrote them. The state machine only reads it (RaftLogReader); the host applies
// the state machine's append and truncate actions. MemoryLog is the in-memory implementation the
// unit tests and the simulator use; the adapter over broker/log (record batches in
// `__cluster_metadata-0`) implements the same reader later.

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

export interface RaftLogReader {
  /** The offset the next entry gets (the log end offset). */
  endOffset(): number;
  /** The epoch of the last entry, 0 for an empty log. */
  lastEpoch(): number;
  /** The epoch of the entry at `offset`, undefined outside the log. */
  epochAt(offset: number): number | undefined;
  /** Up to `maxEntries` entries from `fromOffset`. */
  read(fromOffset: number, maxEntries: number): LogEntry[];
  /**
   * The leader-epoch cache lookup (Kafka's endOffsetForEpoch): the largest epoch in the log that
   * is ≤ `epoch`, and the offset where it ends (the start of the next epoch, or the log end).
   * `{epoch: 0, offset: 0}` when the log holds no such epoch.
   */
  endOffsetForEpoch(epoch: number): OffsetAndEpoch;
}

export class MemoryLog implements RaftLogReader {
  private entries: LogEntry[] = [];
  /** Leader-epoch cache: the first offset of each epoch in the log, epochs ascending. */
  private epochStarts: { epoch: number; startOffset: number }[] = [];

  constructor(entries: readonly LogEntry[] = []) {
    for (const e of entries) this.append([e]);
  }

  endOffset(): number {
    return this.entries.length;
  }

  lastEpoch(): number {
    return this.epochStarts.length === 0 ? 0 : this.epochStarts[this.epochStarts.length - 1].epoch;
  }

  epochAt(offset: number): number | undefined {
    return this.entries[offset]?.epoch;
  }

  entryAt(offset: number): LogEntry | undefined {
    return this.entries[offset];
  }

  read(fromOffset: number, maxEntries: number): LogEntry[] {
    return this.entries.slice(fromOffset, fromOffset + maxEntries);
  }

  all(): readonly LogEntry[] {
    return this.entries;
  }

  endOffsetForEpoch(epoch: number): OffsetAndEpoch {
    let i = this.epochStarts.length - 1;
    while (i >= 0 && this.epochStarts[i].epoch > epoch) i--;
    if (i < 0) return { epoch: 0, offset: 0 };
    const next = this.epochStarts[i + 1];
    return { epoch: this.epochStarts[i].epoch, offset: next ? next.startOffset : this.entries.length };
  }

  /** Appends entries that must continue the log: consecutive offsets, epochs never decreasing. */
  append(entries: readonly LogEntry[]): void {
    for (const e of entries) {
      if (e.offset !== this.entries.length)
        throw new Error(`append at offset ${e.offset}, log end is ${this.entries.length}`);
      const last = this.lastEpoch();
      if (e.epoch < last) throw new Error(`append of epoch ${e.epoch} after epoch ${last}`);
      if (e.epoch > last || this.epochStarts.length === 0)
        this.epochStarts.push({ epoch: e.epoch, startOffset: e.offset });
      this.entries.push(e);
    }
  }

  /** Removes every entry at or after `offset`. */
  truncateTo(offset: number): void {
    if (offset >= this.entries.length) return;
    this.entries.length = Math.max(0, offset);
    while (this.epochStarts.length > 0 && this.epochStarts[this.epochStarts.length - 1].startOffset >= offset)
      this.epochStarts.pop();
  }
}
