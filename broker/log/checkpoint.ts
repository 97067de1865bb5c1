// The partition's checkpoint file: the log start offset (so retention survives a restart) and
// the recovery point (everything below it was fsynced, so recovery starts there). Written to a
// temporary file, fsynced and renamed over the old one, so a crash leaves one or the other.

import { open, readFile, rename } from 'node:fs/promises';
import path from 'node:path';

export const CHECKPOINT_FILE = 'log.checkpoint';
const VERSION = 0;

export interface LogCheckpoint {
  logStartOffset: number;
  recoveryPoint: number;
}

/** The checkpoint, null when there is none, or why the file could not be read. */
export async function readCheckpoint(dir: string): Promise<LogCheckpoint | null | string> {
  let text: string;
  try {
    text = await readFile(path.join(dir, CHECKPOINT_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const fields = new Map(
    text
      .split('\n')
      .map((line) => /^(\w+):\s*(\S+)$/.exec(line.trim()))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1], m[2]]),
  );
  const version = Number(fields.get('version'));
  const logStartOffset = Number(fields.get('log_start_offset'));
  const recoveryPoint = Number(fields.get('recovery_point'));
  if (version !== VERSION) return `unsupported checkpoint version ${fields.get('version')}`;
  if (
    !Number.isSafeInteger(logStartOffset) ||
    !Number.isSafeInteger(recoveryPoint) ||
    logStartOffset < 0 ||
    recoveryPoint < 0
  ) {
    return `malformed checkpoint: ${JSON.stringify(text)}`;
  }
  return { logStartOffset, recoveryPoint };
}

export async function writeCheckpoint(dir: string, checkpoint: LogCheckpoint): Promise<void> {
  const target = path.join(dir, CHECKPOINT_FILE);
  const tmp = `${target}.tmp`;
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(
      `version: ${VERSION}\nlog_start_offset: ${checkpoint.logStartOffset}\nrecovery_point: ${checkpoint.recoveryPoint}\n`,
    );
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, target);
}
