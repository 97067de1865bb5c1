// The time index (`.timeindex`): 12-byte entries of timestamp (int64) and relative offset (int32).
// An entry (T, O) says the largest timestamp up to the batch ending at offset O is T, so no record
// before that batch has a timestamp above T. Entries are added only when T grows, as in Kafka.

import { open } from 'node:fs/promises';
import { readInt64, writeInt64 } from '../protocol/record-batch.js';
import { IndexFile, readIndexFile } from './index-file.js';

const ENTRY_BYTES = 12;

export interface TimeIndexEntry {
  timestamp: number;
  offset: number;
}

export class TimeIndex extends IndexFile {
  private constructor(path: string, baseOffset: number, contents?: Buffer) {
    super(path, baseOffset, ENTRY_BYTES, contents);
  }

  static empty(path: string, baseOffset: number): TimeIndex {
    return new TimeIndex(path, baseOffset);
  }

  /** Loads and fully checks an index; returns why it is unusable instead when it is. */
  static async load(path: string, baseOffset: number): Promise<TimeIndex | string> {
    const contents = await readIndexFile(path, ENTRY_BYTES);
    if (typeof contents === 'string') return contents;
    let lastTimestamp = -1;
    let lastRelative = 0;
    for (let at = 0; at < contents.length; at += ENTRY_BYTES) {
      const timestamp = readInt64(contents, at);
      const relative = contents.readInt32BE(at + 8);
      if (timestamp <= lastTimestamp || relative < lastRelative) {
        return `entry ${at / ENTRY_BYTES} (${timestamp}, ${baseOffset + relative}) does not follow the one before it`;
      }
      lastTimestamp = timestamp;
      lastRelative = relative;
    }
    return new TimeIndex(path, baseOffset, contents);
  }

  /**
   * Reads only the last entry (the segment's max timestamp once the segment is sealed), or why
   * the file is unusable; opening a log does not need the rest of a closed segment's index.
   */
  static async readLastEntry(path: string, baseOffset: number): Promise<TimeIndexEntry | null | string> {
    let fh;
    try {
      fh = await open(path, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'time index file is missing';
      throw err;
    }
    try {
      const { size } = await fh.stat();
      if (size % ENTRY_BYTES !== 0) return `time index size ${size} is not a multiple of ${ENTRY_BYTES}`;
      if (size === 0) return null;
      const entry = Buffer.alloc(ENTRY_BYTES);
      await fh.read(entry, 0, ENTRY_BYTES, size - ENTRY_BYTES);
      const relative = entry.readInt32BE(8);
      if (relative < 0) return `time index ends with a negative relative offset ${relative}`;
      return { timestamp: readInt64(entry, 0), offset: baseOffset + relative };
    } finally {
      await fh.close();
    }
  }

  /** Appends an entry when `timestamp` is above the last one. */
  maybeAppend(timestamp: number, offset: number): void {
    const last = this.lastEntry();
    if (timestamp <= (last?.timestamp ?? -1)) return;
    const relative = this.relativeOffset(offset);
    const at = this.nextSlot();
    writeInt64(this.buf, at, timestamp);
    this.buf.writeInt32BE(relative, at + 8);
  }

  /** Offset of the last entry with timestamp <= `timestamp`, or the base offset: where a search starts. */
  lookup(timestamp: number): number {
    let lo = 0;
    let hi = this.entries - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (readInt64(this.buf, mid * ENTRY_BYTES) <= timestamp) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found < 0 ? this.baseOffset : this.baseOffset + this.buf.readInt32BE(found * ENTRY_BYTES + 8);
  }

  /** Drops the entries naming offsets at or after `offset` (log truncation). */
  truncateToOffset(offset: number): void {
    let keep = this.entries;
    while (keep > 0 && this.baseOffset + this.buf.readInt32BE((keep - 1) * ENTRY_BYTES + 8) >= offset) keep--;
    this.truncateEntries(keep);
  }

  lastEntry(): TimeIndexEntry | null {
    if (this.entries === 0) return null;
    const at = (this.entries - 1) * ENTRY_BYTES;
    return { timestamp: readInt64(this.buf, at), offset: this.baseOffset + this.buf.readInt32BE(at + 8) };
  }
}
