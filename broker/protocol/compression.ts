// The compression codecs of record batches (attributes bits 0-2): gzip, snappy, lz4, zstd.
// The broker stores and serves batches as produced; it compresses or decompresses only to
// read records (compaction, keys of compacted topics) and to apply a topic's
// `compression.type`. Everything here is async where the codec allows it, so large batches
// do not stall the event loop.
//
// - gzip: node:zlib.
// - snappy: the `snappy` package (raw snappy blocks). Kafka's Java producer writes snappy in
//   xerial's framing (a 16-byte header, then length-prefixed raw blocks); librdkafka and other
//   clients may write one raw block. Decoding accepts both. Encoding writes one raw block: the
//   Java consumer (xerial's SnappyInputStream falls back to raw data without the header),
//   librdkafka and kafkajs' snappy codecs read it, and @platformatic/kafka reads only that.
// - lz4: LZ4 *frame* format (Kafka's KafkaLZ4BlockOutputStream writes standard frames for
//   message format v2). Compression is the `lz4-napi` package's frame encoder; decompression
//   walks the frame here and decodes each block with the package's block decoder, so output
//   stops at the limit below (the package's frame decoder has none).
// - zstd: node:zlib when the running Node has it (22.15+), else the `zstd-napi` package, an
//   optional dependency built from source at install, through its streaming decoder
//   (synchronous: it runs on the event loop, in slices, at several hundred MB/s).
//
// Decompression bombs. A batch is at most max.message.bytes compressed (1 MiB by default), but
// a few KB of zstd or gzip can expand to gigabytes. Every decoder here writes at most
// `maxBytes` (MAX_DECOMPRESSED_BYTES unless the caller says otherwise) and stops with
// DecompressedTooLargeError as soon as the output passes it, without decoding the rest: gzip and
// node:zlib zstd through zlib's maxOutputLength (streamed, checked per 64 KiB chunk), zstd-napi
// in a streaming loop, snappy by the uncompressed length every snappy block declares up front,
// lz4 block by block.
//
// Native codecs load on first use, so a platform without one of them still runs the broker
// and only batches of that codec fail.

import { promisify } from 'node:util';
import zlib from 'node:zlib';

export type CompressionCodec = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';

/** Codec ids as stored in the batch attributes. */
export const CODEC_IDS: Readonly<Record<CompressionCodec, number>> = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 };

/** A batch whose compressed records cannot be decoded (or a codec that cannot be loaded). */
export class CompressionError extends Error {}

/** The codec's package is not installed or does not load on this platform. */
export class CodecUnavailableError extends CompressionError {}

/** The records of a batch decompress to more than the broker accepts (see MAX_DECOMPRESSED_BYTES). */
export class DecompressedTooLargeError extends CompressionError {}

/**
 * Upper bound on the records of one decompressed batch, so one small batch cannot make the
 * broker allocate without limit (a decompression bomb). Kafka streams records out of the codec
 * and never holds a whole decompressed batch; Runnel does, so it bounds it. 64 MiB is 64 times
 * the default max.message.bytes (a 1 MiB batch compressed 64:1, a default 16 KiB Java batch
 * 4096:1), beyond what producers build from real data (librdkafka caps a batch at 1 MB before
 * compression and refuses zstd output above receive.message.max.bytes, 100 MB), while a few
 * such batches in flight at once still fit a small broker's memory.
 */
export const MAX_DECOMPRESSED_BYTES = 64 * 1024 * 1024;

/** zlib's output chunk when decompressing: fewer round trips to the thread pool than 16 KiB. */
const ZLIB_CHUNK_BYTES = 64 * 1024;

function tooLarge(codec: CompressionCodec, maxBytes: number): DecompressedTooLargeError {
  return new DecompressedTooLargeError(
    `${codec} records decompress to more than ${maxBytes} bytes, the most the broker decompresses per batch`,
  );
}

const gzip = promisify(zlib.gzip);
const gunzip = promisify(zlib.gunzip);

// ---- snappy (xerial framing) ---------------------------------------------------------------

/** 0x82 'SNAPPY' 0x00, then version and minimum compatible version (int32 each). */
const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER_BYTES = 16;

interface SnappyModule {
  compress(input: Uint8Array): Promise<Buffer>;
  uncompress(input: Uint8Array, options: { asBuffer: true }): Promise<string | Buffer>;
}
interface Lz4Module {
  compressFrame(data: Uint8Array): Promise<Buffer>;
  /** One raw LZ4 block, prefixed by the most bytes it may decode to (uint32 LE). */
  uncompressSync(data: Uint8Array, dict?: Uint8Array | null): Buffer;
}
interface ZstdModule {
  compress(data: Uint8Array): Buffer;
}
/** The parts of zstd-napi's thin binding used here (ZSTD_decompressStream). */
interface ZstdBinding {
  DCtx: new () => {
    decompressStream(dst: Uint8Array, src: Uint8Array): [remaining: number, produced: number, consumed: number];
  };
  getFrameContentSize(frame: Uint8Array): number | null;
}

const loaded = new Map<string, Promise<unknown>>();

/** Loads a CommonJS native codec package once; fails with a message naming the package. */
function load<T>(name: string): Promise<T> {
  let p = loaded.get(name);
  if (!p) {
    p = import(name).then(
      (m: { default?: unknown }) => m.default ?? m,
      (err: unknown) => {
        loaded.delete(name);
        throw new CodecUnavailableError(`the ${name} codec package could not be loaded: ${(err as Error).message}`);
      },
    );
    loaded.set(name, p);
  }
  return p as Promise<T>;
}

function isXerialFramed(data: Buffer): boolean {
  return data.length >= XERIAL_HEADER_BYTES && data.subarray(0, XERIAL_MAGIC.length).equals(XERIAL_MAGIC);
}

/** The uncompressed length a raw snappy block starts with (a varint of at most 32 bits). */
function snappyDeclaredLength(block: Buffer): number {
  let value = 0;
  for (let i = 0; i < 5; i++) {
    if (i >= block.length) throw new CompressionError('snappy block cut off in its length preamble');
    const b = block[i];
    value += (b & 0x7f) * 2 ** (7 * i);
    if ((b & 0x80) === 0) return value;
  }
  throw new CompressionError('snappy block length preamble is longer than 5 bytes');
}

async function snappyDecompress(data: Buffer, maxBytes: number): Promise<Buffer> {
  const blocks: Buffer[] = [];
  if (!isXerialFramed(data)) blocks.push(data);
  else {
    for (let at = XERIAL_HEADER_BYTES; at < data.length;) {
      if (at + 4 > data.length) throw new CompressionError(`xerial snappy block length cut off at byte ${at}`);
      const length = data.readInt32BE(at);
      at += 4;
      if (length < 0 || at + length > data.length)
        throw new CompressionError(`xerial snappy block of ${length} bytes runs past the data`);
      blocks.push(data.subarray(at, at + length));
      at += length;
    }
  }
  // The decoder checks that a block decodes to exactly the length it declares.
  let declared = 0;
  for (const block of blocks) {
    declared += snappyDeclaredLength(block);
    if (declared > maxBytes) throw tooLarge('snappy', maxBytes);
  }
  const snappy = await load<SnappyModule>('snappy');
  const raw = async (block: Buffer) => {
    const out = await snappy.uncompress(block, { asBuffer: true });
    return typeof out === 'string' ? Buffer.from(out) : out;
  };
  if (blocks.length === 1) return raw(blocks[0]);
  return Buffer.concat(await Promise.all(blocks.map(raw)));
}

async function snappyCompress(data: Buffer): Promise<Buffer> {
  return (await load<SnappyModule>('snappy')).compress(data);
}

// ---- zstd ------------------------------------------------------------------------------------

type ZlibCallback = (err: Error | null, result: Buffer) => void;
interface ZlibWithZstd {
  zstdCompress?: (data: Buffer, cb: ZlibCallback) => void;
  zstdDecompress?: (data: Buffer, options: { maxOutputLength: number; chunkSize: number }, cb: ZlibCallback) => void;
}
const zlibZstd = zlib as unknown as ZlibWithZstd;

async function zstdCompress(data: Buffer): Promise<Buffer> {
  const native = zlibZstd.zstdCompress;
  if (native) return promisify(native)(data);
  return (await load<ZstdModule>('zstd-napi')).compress(data);
}

/** zstd-napi's output per ZSTD_decompressStream call grows from the first to the last size. */
const ZSTD_FIRST_CHUNK_BYTES = 128 * 1024;
const ZSTD_MAX_CHUNK_BYTES = 4 * 1024 * 1024;
/** Output decoded between two yields to the event loop, so a large batch does not stall it. */
const ZSTD_SLICE_BYTES = 8 * 1024 * 1024;

async function zstdDecompress(data: Buffer, maxBytes: number): Promise<Buffer> {
  const native = zlibZstd.zstdDecompress;
  if (native) return promisify(native)(data, { maxOutputLength: maxBytes, chunkSize: ZLIB_CHUNK_BYTES });
  const zstd = await load<ZstdBinding>('zstd-napi/binding.js');
  const dctx = new zstd.DCtx();
  const chunks: Buffer[] = [];
  let total = 0;
  let sinceYield = 0;
  let src = data;
  // A declared content size (when it fits the limit) sizes the first chunk exactly.
  let declared: number | null = null;
  try {
    declared = zstd.getFrameContentSize(data);
  } catch {
    // Not a frame header zstd recognises: the streaming call below reports it.
  }
  let chunkBytes = declared !== null && declared > 0 && declared <= maxBytes ? declared + 1 : ZSTD_FIRST_CHUNK_BYTES;
  for (;;) {
    const out = Buffer.allocUnsafe(Math.min(chunkBytes, maxBytes - total + 1));
    const [remaining, produced, consumed] = dctx.decompressStream(out, src);
    src = src.subarray(consumed);
    if (produced > 0) {
      chunks.push(out.subarray(0, produced));
      total += produced;
      if (total > maxBytes) throw tooLarge('zstd', maxBytes);
    }
    // remaining === 0: a frame ended and is fully flushed; more input is another frame.
    if (remaining === 0 && src.length === 0) break;
    if (produced < out.length && consumed === 0 && src.length === 0)
      throw new CompressionError('zstd frame is truncated');
    if (produced === 0 && consumed === 0)
      throw new CompressionError('zstd decoder made no progress (truncated or corrupt frame)');
    chunkBytes = Math.min(chunkBytes * 2, ZSTD_MAX_CHUNK_BYTES);
    sinceYield += produced;
    if (sinceYield >= ZSTD_SLICE_BYTES) {
      sinceYield = 0;
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total);
}

// ---- lz4 frame -------------------------------------------------------------------------------

const LZ4_FRAME_MAGIC = 0x184d2204;
/** Skippable frames: magic 0x184D2A50 to 0x184D2A5F, then a uint32 LE length. */
const LZ4_SKIPPABLE_MASK = 0xfffffff0;
const LZ4_SKIPPABLE_MAGIC = 0x184d2a50;
/** The block maximum sizes of the BD byte's bits 4-6 (values 4 to 7). */
const LZ4_BLOCK_MAX_BYTES = [0, 0, 0, 0, 64 * 1024, 256 * 1024, 1024 * 1024, 4 * 1024 * 1024];
/** How far back a block of a linked-blocks frame may copy from earlier blocks. */
const LZ4_WINDOW_BYTES = 64 * 1024;
/** Output decoded between two yields to the event loop. */
const LZ4_SLICE_BYTES = 8 * 1024 * 1024;

/**
 * Decodes LZ4 frames (https://github.com/lz4/lz4/blob/dev/doc/lz4_Frame_format.md) block by
 * block, so output stops at `maxBytes`. Blocks (at most 4 MiB, usually 64 KiB) decode
 * synchronously, yielding to the event loop every LZ4_SLICE_BYTES: a thread-pool round trip
 * per block costs more than decoding it. Checksums (header, block, content) are not verified:
 * the batch CRC already covers these bytes; a damaged block fails to decode or yields records
 * that do not parse.
 */
async function lz4Decompress(data: Buffer, maxBytes: number): Promise<Buffer> {
  const lz4 = await load<Lz4Module>('lz4-napi');
  const chunks: Buffer[] = [];
  let total = 0;
  let sinceYield = 0;
  let at = 0;
  const need = (n: number, what: string) => {
    if (at + n > data.length) throw new CompressionError(`lz4 frame cut off in its ${what} at byte ${at}`);
  };
  while (at < data.length) {
    need(4, 'magic number');
    const magic = data.readUInt32LE(at);
    at += 4;
    if ((magic & LZ4_SKIPPABLE_MASK) >>> 0 === LZ4_SKIPPABLE_MAGIC) {
      need(4, 'skippable frame length');
      at += 4 + data.readUInt32LE(at);
      continue;
    }
    if (magic !== LZ4_FRAME_MAGIC)
      throw new CompressionError(`not an lz4 frame (magic 0x${magic.toString(16)} at byte ${at - 4})`);
    need(2, 'frame descriptor');
    const flg = data[at];
    const bd = data[at + 1];
    at += 2;
    if (flg >> 6 !== 1) throw new CompressionError(`unsupported lz4 frame version ${flg >> 6}`);
    const independent = (flg & 0x20) !== 0;
    const blockChecksum = (flg & 0x10) !== 0;
    const contentSize = (flg & 0x08) !== 0;
    const contentChecksum = (flg & 0x04) !== 0;
    const dictId = (flg & 0x01) !== 0;
    const blockMaxBytes = LZ4_BLOCK_MAX_BYTES[(bd >> 4) & 0x07];
    if (blockMaxBytes === 0) throw new CompressionError(`invalid lz4 block maximum size code ${(bd >> 4) & 0x07}`);
    if (dictId) throw new CompressionError('lz4 frames with a dictionary id are not supported');
    at += (contentSize ? 8 : 0) + 1; // content size, header checksum
    need(0, 'frame descriptor');
    const prefix = Buffer.alloc(4);
    prefix.writeUInt32LE(blockMaxBytes, 0);
    let window: Buffer | null = null;
    for (;;) {
      need(4, 'block size');
      const word = data.readUInt32LE(at);
      at += 4;
      if (word === 0) break; // EndMark
      const size = word & 0x7fffffff;
      need(size + (blockChecksum ? 4 : 0), 'block');
      const body = data.subarray(at, at + size);
      at += size + (blockChecksum ? 4 : 0);
      if (size > blockMaxBytes)
        throw new CompressionError(`lz4 block of ${size} bytes exceeds the frame's ${blockMaxBytes}-byte blocks`);
      const block: Buffer =
        word & 0x80000000 ? body : lz4.uncompressSync(Buffer.concat([prefix, body]), independent ? null : window);
      total += block.length;
      if (total > maxBytes) throw tooLarge('lz4', maxBytes);
      sinceYield += block.length;
      if (sinceYield >= LZ4_SLICE_BYTES) {
        sinceYield = 0;
        await new Promise((resolve) => setImmediate(resolve));
      }
      chunks.push(block);
      if (!independent) {
        window =
          block.length >= LZ4_WINDOW_BYTES || window === null
            ? block.subarray(-LZ4_WINDOW_BYTES)
            : Buffer.concat([window, block]).subarray(-LZ4_WINDOW_BYTES);
      }
    }
    at += contentChecksum ? 4 : 0;
    need(0, 'content checksum');
  }
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total);
}

// ---- entry points ----------------------------------------------------------------------------

/** Compresses the records section of a batch with `codec` ('none' returns it as is). */
export async function compress(codec: CompressionCodec, data: Buffer): Promise<Buffer> {
  switch (codec) {
    case 'none':
      return data;
    case 'gzip':
      return gzip(data);
    case 'snappy':
      return snappyCompress(data);
    case 'lz4':
      return (await load<Lz4Module>('lz4-napi')).compressFrame(data);
    case 'zstd':
      return zstdCompress(data);
  }
}

/**
 * Decompresses the records section of a batch, to at most `maxBytes`: the decoder stops as soon
 * as its output passes that (DecompressedTooLargeError). Any other failure of the codec
 * (corrupt data, truncated frame) is a CompressionError.
 */
export async function decompress(
  codec: CompressionCodec,
  data: Buffer,
  maxBytes = MAX_DECOMPRESSED_BYTES,
): Promise<Buffer> {
  let out: Buffer;
  try {
    switch (codec) {
      case 'none':
        return data;
      case 'gzip':
        out = await gunzip(data, { maxOutputLength: maxBytes, chunkSize: ZLIB_CHUNK_BYTES });
        break;
      case 'snappy':
        out = await snappyDecompress(data, maxBytes);
        break;
      case 'lz4':
        out = await lz4Decompress(data, maxBytes);
        break;
      case 'zstd':
        out = await zstdDecompress(data, maxBytes);
        break;
    }
  } catch (err) {
    if (err instanceof CompressionError) throw err;
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge(codec, maxBytes);
    throw new CompressionError(`cannot decompress ${codec} records: ${(err as Error).message}`);
  }
  if (out.length > maxBytes) throw tooLarge(codec, maxBytes);
  return out;
}
