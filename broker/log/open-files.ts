// The process's open-file budget. Every partition keeps its active segment open, so the number
// of partitions a broker can serve is bounded by its open-file limit (`ulimit -n`); running into
// the limit mid-way through creating a topic, or while loading logs at start-up, must end in a
// clear refusal that names the limit, never in a half-created topic or a broker that cannot
// start. Linux only (/proc); elsewhere the budget is unknown and nothing is refused up front.

import { readdir, readFile } from 'node:fs/promises';

/** Open files a partition holds while idle: its active segment's log file. */
export const OPEN_FILES_PER_PARTITION = 1;

/**
 * Descriptors kept free for everything else: connections, segments being read, index files,
 * checkpoints. A quarter of the limit, at most 1,024.
 */
function reserveFor(limit: number): number {
  return Math.min(1024, Math.floor(limit / 4));
}

export interface OpenFiles {
  /** The soft limit (RLIMIT_NOFILE). */
  limit: number;
  /** Descriptors open now. */
  open: number;
}

export async function openFiles(): Promise<OpenFiles | undefined> {
  try {
    const limits = await readFile('/proc/self/limits', 'utf8');
    const soft = /^Max open files\s+(\S+)/m.exec(limits)?.[1];
    if (soft === undefined || soft === 'unlimited') return undefined;
    return { limit: Number(soft), open: (await readdir('/proc/self/fd')).length };
  } catch {
    return undefined;
  }
}

/** Why `partitions` more partitions cannot be opened now, or undefined when they fit. */
export async function refuseNewPartitions(partitions: number): Promise<string | undefined> {
  const files = await openFiles();
  if (!files) return undefined;
  const needed = partitions * OPEN_FILES_PER_PARTITION;
  const available = files.limit - reserveFor(files.limit) - files.open;
  if (needed <= available) return undefined;
  return (
    `${partitions} partitions need ${needed} open files, but only ${Math.max(available, 0)} of this broker's limit of ${files.limit} are free ` +
    `(${files.open} in use, ${reserveFor(files.limit)} kept for connections). Raise the broker's open-file limit (ulimit -n) or create fewer partitions.`
  );
}

/** True for the errors a full descriptor table raises. */
export function isOutOfFiles(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'EMFILE' || code === 'ENFILE';
}

/** A start-up or request error for running out of descriptors, naming the limit to raise. */
export async function outOfFilesMessage(doing: string): Promise<string> {
  const files = await openFiles();
  const limit = files ? ` (limit ${files.limit})` : '';
  return `ran out of open files${limit} while ${doing}: every partition keeps a file open; raise the broker's open-file limit (ulimit -n) and start it again`;
}
