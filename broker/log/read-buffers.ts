// Buffers that Fetch reads segment bytes into, reused instead of allocated per read: a fresh
// ~1 MiB buffer per fetch made garbage collection a quarter or more of the broker's main-thread
// time while consuming 1 KiB records.
//
// Ownership: a pooled buffer is either free in the pool or lent to exactly one ReadLoan. The
// bytes read into it are sent as slices of it (no copy), so the loan's holder releases it only
// when nothing can read those bytes any more: once the socket has taken every chunk of the
// response, or when the response will never be written. A buffer released early would be
// read into again while its old bytes are still queued for the socket.

export class ReadBufferPool {
  private readonly free: Buffer[] = [];
  private created = 0;

  /** At most `maxBuffers` buffers of `bufferBytes` each exist; reads beyond that allocate. */
  constructor(
    readonly bufferBytes: number,
    private readonly maxBuffers: number,
  ) {}

  /** Pooled buffers not lent out. */
  get freeCount(): number {
    return this.free.length;
  }

  loan(): ReadLoan {
    return new ReadLoan(this);
  }

  /** For ReadLoan: a free buffer, a new one while fewer than maxBuffers exist, else null. */
  take(): Buffer | null {
    const buf = this.free.pop();
    if (buf) return buf;
    if (this.created === this.maxBuffers) return null;
    this.created++;
    return Buffer.allocUnsafeSlow(this.bufferBytes);
  }

  /** For ReadLoan. */
  give(buf: Buffer): void {
    this.free.push(buf);
  }
}

/** The buffers one fetch response reads into; its holder calls release() once, as above. */
export class ReadLoan {
  private lent: Buffer[] = [];
  private released = false;

  constructor(private readonly pool: ReadBufferPool) {}

  /** `bytes` bytes to read into: the start of a pooled buffer when one fits and is free. */
  alloc(bytes: number): Buffer {
    if (this.released) throw new Error('read loan used after release');
    const pooled = bytes <= this.pool.bufferBytes ? this.pool.take() : null;
    if (!pooled) return Buffer.allocUnsafe(bytes);
    this.lent.push(pooled);
    return pooled.subarray(0, bytes);
  }

  release(): void {
    if (this.released) throw new Error('read loan released twice');
    this.released = true;
    for (const buf of this.lent) this.pool.give(buf);
    this.lent = [];
  }
}
