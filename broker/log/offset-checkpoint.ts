// Kafka's checkpoint file format (CheckpointFile): a version line, a count line, then one entry
// per line, fields separated by spaces. Used for the per-log-dir `replication-offset-checkpoint`
// (`<topic> <partition> <high watermark>`: a restarted broker neither shows consumers records that
// were never committed nor hides ones that were) and the per-partition `leader-epoch-checkpoint`.
// Written to a temporary file, fsynced and renamed over the old one.

import { open, readFile, rename } from 'node:fs/promises';
import path from 'node:path';

export const HIGH_WATERMARK_CHECKPOINT = 'replication-offset-checkpoint';
const VERSION = 0;

export interface PartitionOffset {
  topic: string;
  partition: number;
  offset: number;
}

/**
 * The entries of `dir/<file>`, each parsed from its fields (undefined: malformed); empty when
 * there is no file, an Error saying what is wrong when it cannot be read as Kafka's format.
 */
export async function readCheckpointFile<T>(
  dir: string,
  file: string,
  parse: (fields: string[]) => T | undefined,
): Promise<T[] | Error> {
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
  const entries: T[] = [];
  for (const line of lines.slice(2)) {
    const entry = parse(line.trim().split(/\s+/));
    if (entry === undefined) return new Error(`${file}: malformed line ${JSON.stringify(line)}`);
    entries.push(entry);
  }
  return entries;
}

export async function writeCheckpointFile(dir: string, file: string, entries: readonly string[]): Promise<void> {
  const target = path.join(dir, file);
  const tmp = `${target}.tmp`;
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile([String(VERSION), String(entries.length), ...entries].join('\n') + '\n');
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, target);
}

/** A non-negative integer field, or undefined. */
export function offsetField(field: string | undefined): number | undefined {
  const n = Number(field);
  return field !== undefined && /^\d+$/.test(field) && Number.isSafeInteger(n) ? n : undefined;
}

export function readHighWatermarks(dir: string): Promise<PartitionOffset[] | Error> {
  return readCheckpointFile(dir, HIGH_WATERMARK_CHECKPOINT, ([topic, partition, offset, ...rest]) => {
    const p = offsetField(partition);
    const o = offsetField(offset);
    return topic && p !== undefined && o !== undefined && rest.length === 0
      ? { topic, partition: p, offset: o }
      : undefined;
  });
}

export function writeHighWatermarks(dir: string, entries: readonly PartitionOffset[]): Promise<void> {
  return writeCheckpointFile(
    dir,
    HIGH_WATERMARK_CHECKPOINT,
    entries.map((e) => `${e.topic} ${e.partition} ${e.offset}`),
  );
}
