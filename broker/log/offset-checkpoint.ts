// Kafka's per-log-dir offset checkpoint files (OffsetCheckpointFile): `replication-offset-checkpoint`
// holds every partition's high watermark, so a restarted broker neither shows consumers records
// that were never committed nor hides ones that were. The format is Kafka's: a version line, a
// count line, then `<topic> <partition> <offset>` per line. Written to a temporary file, fsynced
// and renamed over the old one.

import { open, readFile, rename } from 'node:fs/promises';
import path from 'node:path';

export const HIGH_WATERMARK_CHECKPOINT = 'replication-offset-checkpoint';
const VERSION = 0;

export interface PartitionOffset {
  topic: string;
  partition: number;
  offset: number;
}

/** The offsets in `dir/<file>`; empty when there is none, an Error saying what is wrong when malformed. */
export async function readOffsetCheckpoint(dir: string, file: string): Promise<PartitionOffset[] | Error> {
  let text: string;
  try {
    text = await readFile(path.join(dir, file), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  if (Number(lines[0]) !== VERSION) return new Error(`${file}: unsupported version ${JSON.stringify(lines[0])}`);
  if (Number(lines[1]) !== lines.length - 2)
    return new Error(`${file}: says ${lines[1]} entries but holds ${lines.length - 2}`);
  const entries: PartitionOffset[] = [];
  for (const line of lines.slice(2)) {
    const m = /^(\S+) (\d+) (\d+)$/.exec(line.trim());
    if (!m) return new Error(`${file}: malformed line ${JSON.stringify(line)}`);
    entries.push({ topic: m[1], partition: Number(m[2]), offset: Number(m[3]) });
  }
  return entries;
}

export async function writeOffsetCheckpoint(
  dir: string,
  file: string,
  entries: readonly PartitionOffset[],
): Promise<void> {
  const target = path.join(dir, file);
  const tmp = `${target}.tmp`;
  const fh = await open(tmp, 'w');
  try {
    const lines = entries.map((e) => `${e.topic} ${e.partition} ${e.offset}`);
    await fh.writeFile([String(VERSION), String(entries.length), ...lines].join('\n') + '\n');
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, target);
}
