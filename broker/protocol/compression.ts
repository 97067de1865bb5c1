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
// - lz4: the `lz4-napi` package, LZ4 *frame* format (Kafka's KafkaLZ4BlockOutputStream writes
//   standard frames for message format v2).
// - zstd: node:zlib when the running Node has it (22.15+), else the `zstd-napi` package, an
//   optional dependency built from source at install (synchronous: it runs on the event loop,
//   at several hundred MB/s).
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

/**
 * Upper bound on the records of one decompressed batch, so one small batch cannot make the
 * broker allocate without limit (a "compression bomb"). Kafka's largest batch is
 * max.message.bytes, by default 1 MiB, compressed: 256 MiB leaves ample room.
 */
export const MAX_DECOMPRESSED_BYTES = 256 * 1024 * 1024;

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
  decompressFrame(data: Uint8Array): Promise<Buffer>;
}
interface ZstdModule {
  compress(data: Uint8Array): Buffer;
  decompress(data: Uint8Array): Buffer;
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

async function snappyDecompress(data: Buffer): Promise<Buffer> {
  const snappy = await load<SnappyModule>('snappy');
  const raw = async (block: Buffer) => {
    const out = await snappy.uncompress(block, { asBuffer: true });
    return typeof out === 'string' ? Buffer.from(out) : out;
  };
  if (!isXerialFramed(data)) return raw(data);
  const blocks: Buffer[] = [];
  for (let at = XERIAL_HEADER_BYTES; at < data.length; ) {
    if (at + 4 > data.length) throw new CompressionError(`xerial snappy block length cut off at byte ${at}`);
    const length = data.readInt32BE(at);
    at += 4;
    if (length < 0 || at + length > data.length) throw new CompressionError(`xerial snappy block of ${length} bytes runs past the data`);
    blocks.push(data.subarray(at, at + length));
    at += length;
  }
  return Buffer.concat(await Promise.all(blocks.map(raw)));
}

async function snappyCompress(data: Buffer): Promise<Buffer> {
  return (await load<SnappyModule>('snappy')).compress(data);
}

// ---- zstd ------------------------------------------------------------------------------------

type ZlibCallback = (err: Error | null, result: Buffer) => void;
interface ZlibWithZstd {
  zstdCompress?: (data: Buffer, cb: ZlibCallback) => void;
  zstdDecompress?: (data: Buffer, options: { maxOutputLength: number }, cb: ZlibCallback) => void;
}
const zlibZstd = zlib as unknown as ZlibWithZstd;

async function zstdCompress(data: Buffer): Promise<Buffer> {
  const native = zlibZstd.zstdCompress;
  if (native) return promisify(native)(data);
  return (await load<ZstdModule>('zstd-napi')).compress(data);
}

async function zstdDecompress(data: Buffer): Promise<Buffer> {
  const native = zlibZstd.zstdDecompress;
  if (native) return promisify(native)(data, { maxOutputLength: MAX_DECOMPRESSED_BYTES });
  return (await load<ZstdModule>('zstd-napi')).decompress(data);
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
 * Decompresses the records section of a batch. Any failure of the codec (corrupt data,
 * truncated frame, output over MAX_DECOMPRESSED_BYTES) is a CompressionError.
 */
export async function decompress(codec: CompressionCodec, data: Buffer): Promise<Buffer> {
  let out: Buffer;
  try {
    switch (codec) {
      case 'none':
        return data;
      case 'gzip':
        out = await gunzip(data, { maxOutputLength: MAX_DECOMPRESSED_BYTES });
        break;
      case 'snappy':
        out = await snappyDecompress(data);
        break;
      case 'lz4':
        out = await (await load<Lz4Module>('lz4-napi')).decompressFrame(data);
        break;
      case 'zstd':
        out = await zstdDecompress(data);
        break;
    }
  } catch (err) {
    if (err instanceof CompressionError) throw err;
    throw new CompressionError(`cannot decompress ${codec} records: ${(err as Error).message}`);
  }
  if (out.length > MAX_DECOMPRESSED_BYTES) {
    throw new CompressionError(`${codec} records decompress to more than ${MAX_DECOMPRESSED_BYTES} bytes`);
  }
  return out;
}
