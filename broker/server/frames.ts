// Splits a TCP byte stream into size-prefixed Kafka frames. The size is checked against
// `socket.request.max.bytes` as soon as its 4 bytes arrive, before any of the frame is buffered.

const EMPTY = Buffer.alloc(0);

export type FrameEvent = { type: 'frame'; frame: Buffer } | { type: 'error'; reason: string };

export class FrameSplitter {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private expected = -1;

  constructor(private readonly maxFrameBytes: number) {}

  /** Feeds bytes in; returns the complete frames (and at most one error, after which stop). */
  push(data: Buffer): FrameEvent[] {
    this.chunks.push(data);
    this.buffered += data.length;
    const out: FrameEvent[] = [];
    for (;;) {
      if (this.expected < 0) {
        if (this.buffered < 4) return out;
        const size = this.peekSize();
        if (size < 0 || size > this.maxFrameBytes) {
          out.push({
            type: 'error',
            reason: `frame of ${size} bytes is outside 0..${this.maxFrameBytes} (socket.request.max.bytes)`,
          });
          return out;
        }
        this.take(4);
        this.expected = size;
      }
      if (this.buffered < this.expected) return out;
      out.push({ type: 'frame', frame: this.take(this.expected) });
      this.expected = -1;
    }
  }

  private peekSize(): number {
    const first = this.chunks[0];
    if (first.length >= 4) return first.readInt32BE(0);
    return Buffer.concat(this.chunks, 4).readInt32BE(0);
  }

  /** Removes n bytes from the front; a slice when they lie in one chunk, else one copy. */
  private take(n: number): Buffer {
    // An empty frame may end exactly where the received bytes do: there is no chunk to slice.
    if (n === 0) return EMPTY;
    this.buffered -= n;
    const first = this.chunks[0];
    if (first.length > n) {
      this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    if (first.length === n) {
      this.chunks.shift();
      return first;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[0];
      const part = Math.min(c.length, n - filled);
      c.copy(out, filled, 0, part);
      filled += part;
      if (part === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(part);
    }
    return out;
  }
}
