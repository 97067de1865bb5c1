// Fixed-size index entries held in memory and appended to their file on flush. Indexes are
// derived data: recovery rebuilds them from the log, so they are written on roll, flush and
// close rather than on every append.

import { open, readFile } from 'node:fs/promises';

const INITIAL_ENTRIES = 64;
export const INT32_MAX = 2 ** 31 - 1;

export abstract class IndexFile {
  protected buf: Buffer;
  protected entries: number;
  private persistedEntries: number;
  /** Whether the file holds exactly the entries in memory (a new index has no file yet). */
  private fileCurrent: boolean;
  /** Set by truncateEntries: the file holds entries past the ones in memory and must be cut. */
  private fileTooLong = false;

  protected constructor(
    /** Changes when the cleaner renames a cleaned segment's files into place. */
    public path: string,
    readonly baseOffset: number,
    private readonly entryBytes: number,
    contents: Buffer | undefined,
  ) {
    this.buf = contents ?? Buffer.alloc(INITIAL_ENTRIES * entryBytes);
    this.entries = contents ? contents.length / entryBytes : 0;
    this.persistedEntries = this.entries;
    this.fileCurrent = contents !== undefined;
  }

  get count(): number {
    return this.entries;
  }

  get persisted(): boolean {
    return this.fileCurrent;
  }

  /** Byte position for a new entry, growing the buffer as needed. */
  protected nextSlot(): number {
    const at = this.entries * this.entryBytes;
    if (at + this.entryBytes > this.buf.length) {
      const grown = Buffer.alloc(Math.max(this.buf.length * 2, INITIAL_ENTRIES * this.entryBytes));
      this.buf.copy(grown, 0, 0, at);
      this.buf = grown;
    }
    this.entries++;
    this.fileCurrent = false;
    return at;
  }

  protected relativeOffset(offset: number): number {
    const relative = offset - this.baseOffset;
    if (relative < 0 || relative > INT32_MAX) {
      throw new RangeError(`offset ${offset} does not fit an index based at ${this.baseOffset}`);
    }
    return relative;
  }

  /** Keeps the first `count` entries (log truncation); the file follows on the next persist. */
  protected truncateEntries(count: number): void {
    if (count >= this.entries) return;
    this.entries = count;
    if (count < this.persistedEntries) {
      this.persistedEntries = count;
      this.fileTooLong = true;
    }
    this.fileCurrent = false;
  }

  /**
   * Writes the entries added since the last persist (the whole file when none was written yet)
   * and optionally fsyncs it. Callers serialize persists of one index.
   */
  async persist(sync: boolean): Promise<void> {
    const from = this.persistedEntries;
    const to = this.entries;
    if (this.fileCurrent && !sync) return;
    const fh = await open(this.path, from === 0 ? 'w' : 'r+');
    try {
      if (this.fileTooLong) await fh.truncate(from * this.entryBytes);
      if (to > from) {
        const start = from * this.entryBytes;
        const length = (to - from) * this.entryBytes;
        const { bytesWritten } = await fh.write(this.buf, start, length, start);
        if (bytesWritten !== length) throw new Error(`short write to ${this.path}: ${bytesWritten} of ${length} bytes`);
      }
      if (sync) await fh.sync();
    } finally {
      await fh.close();
    }
    this.persistedEntries = Math.max(this.persistedEntries, to);
    this.fileTooLong = false;
    this.fileCurrent = this.persistedEntries === this.entries;
  }
}

/** The file's bytes, or a reason it cannot be an index with entries of `entryBytes`. */
export async function readIndexFile(path: string, entryBytes: number): Promise<Buffer | string> {
  let contents: Buffer;
  try {
    contents = await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'index file is missing';
    throw err;
  }
  if (contents.length % entryBytes !== 0)
    return `index file size ${contents.length} is not a multiple of ${entryBytes}`;
  return contents;
}
