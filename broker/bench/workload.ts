// Input for the throughput runs: files of newline-separated records, as kcat -P -l reads them.

import { createWriteStream } from 'node:fs';
import { once } from 'node:events';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const POOL_BYTES = 1 << 16;
const WRITE_CHUNK_BYTES = 4 << 20;

/**
 * Writes `records` records of exactly `recordBytes` bytes each (letters and digits, no
 * newline), each followed by '\n'. Records differ from one another, as taken from a
 * pseudo-random pool at shifting positions.
 */
export async function writeRecordFile(file: string, records: number, recordBytes: number): Promise<void> {
  let seed = 0x2545f491;
  const pool = Buffer.alloc(POOL_BYTES + recordBytes);
  for (let i = 0; i < pool.length; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    pool[i] = ALPHABET.charCodeAt((seed >>> 16) % ALPHABET.length);
  }
  const lineBytes = recordBytes + 1;
  const linesPerChunk = Math.max(1, Math.floor(WRITE_CHUNK_BYTES / lineBytes));
  const out = createWriteStream(file);
  for (let done = 0; done < records;) {
    const n = Math.min(linesPerChunk, records - done);
    const chunk = Buffer.allocUnsafe(n * lineBytes);
    for (let i = 0; i < n; i++) {
      const from = ((done + i) * 7919) % POOL_BYTES;
      pool.copy(chunk, i * lineBytes, from, from + recordBytes);
      chunk[i * lineBytes + recordBytes] = 0x0a;
    }
    done += n;
    if (!out.write(chunk)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}
