// Primitive Kafka wire encodings: big-endian integers, zig-zag varints, length-prefixed
// strings and bytes, in both classic (int16/int32 length) and compact (unsigned varint
// length + 1) forms.

/** Thrown when a frame does not decode; the server turns it into a closed connection. */
export class MalformedFrameError extends Error {}

/** The longest string an int16 length prefix can carry. */
const MAX_INT16_STRING_BYTES = 0x7fff;
const TWO_POW_32 = 2 ** 32;
const INT64_LIMIT = 2 ** 63;

function zigZagDecode(raw: number): number {
  return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
}

export class Reader {
  pos: number;
  constructor(
    readonly buf: Buffer,
    pos = 0,
    readonly end = buf.length,
  ) {
    this.pos = pos;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number): number {
    const at = this.pos;
    if (at + n > this.end) {
      throw new MalformedFrameError(`needed ${n} bytes at offset ${at}, frame ends at ${this.end}`);
    }
    this.pos = at + n;
    return at;
  }

  int8(): number {
    return this.buf.readInt8(this.need(1));
  }
  bool(): boolean {
    return this.buf[this.need(1)] !== 0;
  }
  int16(): number {
    return this.buf.readInt16BE(this.need(2));
  }
  uint16(): number {
    return this.buf.readUInt16BE(this.need(2));
  }
  int32(): number {
    return this.buf.readInt32BE(this.need(4));
  }
  uint32(): number {
    return this.buf.readUInt32BE(this.need(4));
  }
  /** int64 as a JS number: offsets, timestamps and ids stay far below 2^53. */
  int64(): number {
    const at = this.need(8);
    return this.buf.readInt32BE(at) * TWO_POW_32 + this.buf.readUInt32BE(at + 4);
  }
  float64(): number {
    return this.buf.readDoubleBE(this.need(8));
  }
  uvarint(): number {
    return this.unsignedVarint(5);
  }
  varint(): number {
    return zigZagDecode(this.uvarint());
  }
  uvarlong(): number {
    return this.unsignedVarint(10);
  }
  varlong(): number {
    return zigZagDecode(this.uvarlong());
  }
  private unsignedVarint(maxBytes: number): number {
    let value = 0;
    for (let i = 0; i < maxBytes; i++) {
      const byte = this.buf[this.need(1)];
      value += (byte & 0x7f) * 2 ** (7 * i);
      if ((byte & 0x80) === 0) return value;
    }
    throw new MalformedFrameError(`variable-length integer longer than ${maxBytes} bytes`);
  }
  /** A slice of the underlying buffer, not a copy. */
  slice(n: number): Buffer {
    const at = this.need(n);
    return this.buf.subarray(at, at + n);
  }
  /** Length prefix of a string/bytes/array: -1 (null) or the length. */
  length(compact: boolean, wide: boolean): number {
    if (compact) return this.uvarint() - 1;
    const n = wide ? this.int32() : this.int16();
    if (n < -1) throw new MalformedFrameError(`negative length ${n}`);
    return n;
  }
  nullableString(compact: boolean): string | null {
    const n = this.length(compact, false);
    if (n < 0) return null;
    const at = this.need(n);
    return this.buf.toString('utf8', at, at + n);
  }
  nullableBytes(compact: boolean): Buffer | null {
    const n = this.length(compact, true);
    return n < 0 ? null : this.slice(n);
  }
}

const INITIAL_SCRATCH_BYTES = 1024;
/** Byte buffers at least this long are queued as their own chunk instead of being copied. */
const ZERO_COPY_MIN_BYTES = 512;

/**
 * Accumulates an encoding as a list of chunks. Small fields go to a scratch buffer; large
 * byte payloads (record batches read from the log) are referenced, not copied, so a fetch
 * response is written to the socket straight from the buffers the log read.
 */
export class Writer {
  private readonly chunks: Buffer[] = [];
  private scratch: Buffer;
  private start = 0;
  private pos = 0;
  private flushedBytes = 0;

  constructor(initialBytes = INITIAL_SCRATCH_BYTES) {
    this.scratch = Buffer.allocUnsafe(initialBytes);
  }

  get length(): number {
    return this.flushedBytes + this.pos - this.start;
  }

  /** Reserves n bytes. It may replace `scratch`, so callers read `this.scratch` only after it. */
  private room(n: number): number {
    if (this.pos + n > this.scratch.length) {
      this.cut();
      this.scratch = Buffer.allocUnsafe(Math.max(n, this.scratch.length * 2));
      this.start = 0;
      this.pos = 0;
    }
    const at = this.pos;
    this.pos += n;
    return at;
  }

  private cut(): void {
    if (this.pos > this.start) {
      const chunk = this.scratch.subarray(this.start, this.pos);
      this.chunks.push(chunk);
      this.flushedBytes += chunk.length;
      this.start = this.pos;
    }
  }

  int8(v: number): void {
    const at = this.room(1);
    this.scratch.writeInt8(v, at);
  }
  bool(v: boolean): void {
    const at = this.room(1);
    this.scratch[at] = v ? 1 : 0;
  }
  int16(v: number): void {
    const at = this.room(2);
    this.scratch.writeInt16BE(v, at);
  }
  uint16(v: number): void {
    const at = this.room(2);
    this.scratch.writeUInt16BE(v, at);
  }
  int32(v: number): void {
    const at = this.room(4);
    this.scratch.writeInt32BE(v, at);
  }
  uint32(v: number): void {
    const at = this.room(4);
    this.scratch.writeUInt32BE(v, at);
  }
  int64(v: number): void {
    const at = this.room(8);
    // A number read from an int64 near its maximum (2^63 - 1) rounds up to 2^63: it goes back as
    // the maximum, so such values (a client's committed offset, say) round-trip instead of failing.
    if (v >= INT64_LIMIT) {
      this.scratch.writeInt32BE(0x7fffffff, at);
      this.scratch.writeUInt32BE(0xffffffff, at + 4);
      return;
    }
    const high = Math.floor(v / TWO_POW_32);
    this.scratch.writeInt32BE(high, at);
    this.scratch.writeUInt32BE(v - high * TWO_POW_32, at + 4);
  }
  float64(v: number): void {
    const at = this.room(8);
    this.scratch.writeDoubleBE(v, at);
  }
  uvarint(v: number): void {
    while (v >= 0x80) {
      const at = this.room(1);
      this.scratch[at] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    const at = this.room(1);
    this.scratch[at] = v;
  }
  varint(v: number): void {
    this.uvarint(v >= 0 ? v * 2 : -v * 2 - 1);
  }
  lengthPrefix(n: number, compact: boolean, wide: boolean): void {
    if (compact) this.uvarint(n + 1);
    else if (wide) this.int32(n);
    else this.int16(n);
  }
  nullableString(v: string | null, compact: boolean): void {
    if (v === null) {
      this.lengthPrefix(-1, compact, false);
      return;
    }
    let n = Buffer.byteLength(v);
    if (!compact && n > MAX_INT16_STRING_BYTES) {
      // Only an error message quoting oversized input can get here (names in a response came in
      // through the same int16 length): cut it to fit rather than fail the whole response.
      v =
        Buffer.from(v)
          .subarray(0, MAX_INT16_STRING_BYTES - 3)
          .toString('utf8')
          .replace(/\uFFFD$/, '') + '...';
      n = Buffer.byteLength(v);
    }
    this.lengthPrefix(n, compact, false);
    const at = this.room(n);
    this.scratch.write(v, at, n, 'utf8');
  }
  raw(b: Buffer): void {
    if (b.length >= ZERO_COPY_MIN_BYTES) {
      this.cut();
      this.chunks.push(b);
      this.flushedBytes += b.length;
    } else {
      const at = this.room(b.length);
      b.copy(this.scratch, at);
    }
  }
  rawChunks(bs: readonly Buffer[]): void {
    for (const b of bs) this.raw(b);
  }
  nullableBytes(v: Buffer | null, compact: boolean): void {
    if (v === null) {
      this.lengthPrefix(-1, compact, true);
      return;
    }
    this.lengthPrefix(v.length, compact, true);
    this.raw(v);
  }
  /** Reserves 4 bytes and returns a function that fills them in later (frame sizes). */
  placeholderInt32(): (v: number) => void {
    const at = this.room(4);
    const buf = this.scratch;
    return (v) => buf.writeInt32BE(v, at);
  }
  finish(): Buffer[] {
    this.cut();
    return this.chunks;
  }
  /** The whole encoding as one buffer (tests and small messages). */
  toBuffer(): Buffer {
    return Buffer.concat(this.finish());
  }
}
