// The sparse offset index (`.index`): 8-byte entries of relative offset (int32) and file position
// (int32). As in Kafka, an entry names the last offset of a batch and the position where that
// batch starts, so a lookup lands at or before the batch holding the target offset.

import { IndexFile, readIndexFile } from './index-file.js';

const ENTRY_BYTES = 8;

export class OffsetIndex extends IndexFile {
  private constructor(path: string, baseOffset: number, contents?: Buffer) {
    super(path, baseOffset, ENTRY_BYTES, contents);
  }

  static empty(path: string, baseOffset: number): OffsetIndex {
    return new OffsetIndex(path, baseOffset);
  }

  /** Loads and fully checks an index; returns why it is unusable instead when it is. */
  static async load(path: string, baseOffset: number, logBytes: number): Promise<OffsetIndex | string> {
    const contents = await readIndexFile(path, ENTRY_BYTES);
    if (typeof contents === 'string') return contents;
    let lastRelative = -1;
    let lastPosition = -1;
    for (let at = 0; at < contents.length; at += ENTRY_BYTES) {
      const relative = contents.readInt32BE(at);
      const position = contents.readInt32BE(at + 4);
      if (relative <= lastRelative)
        return `entry ${at / ENTRY_BYTES} has offset ${baseOffset + relative} after ${baseOffset + lastRelative}`;
      if (position <= lastPosition || position >= logBytes) {
        return `entry ${at / ENTRY_BYTES} has position ${position} (previous ${lastPosition}, log size ${logBytes})`;
      }
      lastRelative = relative;
      lastPosition = position;
    }
    return new OffsetIndex(path, baseOffset, contents);
  }

  append(lastOffset: number, position: number): void {
    const relative = this.relativeOffset(lastOffset);
    if (this.entries > 0 && relative <= this.buf.readInt32BE((this.entries - 1) * ENTRY_BYTES)) {
      throw new RangeError(`index entry for offset ${lastOffset} is not after the last entry`);
    }
    const at = this.nextSlot();
    this.buf.writeInt32BE(relative, at);
    this.buf.writeInt32BE(position, at + 4);
  }

  /** Position of the last entry whose offset is <= `offset`, or 0: where a scan for `offset` starts. */
  lookup(offset: number): number {
    const target = offset - this.baseOffset;
    let lo = 0;
    let hi = this.entries - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.buf.readInt32BE(mid * ENTRY_BYTES) <= target) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found < 0 ? 0 : this.buf.readInt32BE(found * ENTRY_BYTES + 4);
  }

  /** Drops the entries of batches starting at or after file position `position` (log truncation). */
  truncateToPosition(position: number): void {
    let keep = this.entries;
    while (keep > 0 && this.buf.readInt32BE((keep - 1) * ENTRY_BYTES + 4) >= position) keep--;
    this.truncateEntries(keep);
  }

  /** Position of the newest entry, or 0 when there is none. */
  lastPosition(): number {
    return this.entries === 0 ? 0 : this.buf.readInt32BE((this.entries - 1) * ENTRY_BYTES + 4);
  }
}
