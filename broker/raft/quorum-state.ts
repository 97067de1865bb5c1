// The election state that must survive a restart (epoch, leader, vote), in Kafka's own file:
// `quorum-state` in the metadata partition's directory (`<metadata.log.dir>/__cluster_metadata-0`),
// one line of JSON in the shape of Kafka's QuorumStateData plus `data_version`, as written by
// Kafka's FileQuorumStateStore. With a static voter set (controller.quorum.voters, kraft.version 0)
// Kafka writes data_version 0:
//
//   {"clusterId":"","leaderId":1,"leaderEpoch":2,"votedId":-1,"appliedOffset":0,"currentVoters":[{"voterId":1},{"voterId":2},{"voterId":3}],"data_version":0}
//
// and with dynamic voters (kraft.version 1) data_version 1, which drops clusterId, appliedOffset
// and currentVoters and adds votedDirectoryId. We write version 0 (our voters are static) and read
// both. A write goes to `quorum-state.tmp`, is fsynced, renamed over the file, and the directory is
// fsynced, so a crash leaves the old state or the new one, never a mix; the quorum acts on a new
// state only once its write has resolved.

import { open, readFile, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { ElectionState } from './types.js';

export const QUORUM_STATE_FILE = 'quorum-state';
/** The data_version we write: Kafka's for a static voter set (kraft.version 0). */
const WRITE_VERSION = 0;
const READABLE_VERSIONS = [0, 1];
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/** The quorum-state file exists but cannot be trusted; `file` names it. */
export class QuorumStateError extends Error {
  constructor(
    readonly file: string,
    reason: string,
  ) {
    super(
      `${file} is unreadable: ${reason}. It holds this node's Raft epoch and vote as one line of JSON in Kafka's ` +
        `format (${exampleLine()}). It is replaced atomically, so this means disk damage or a manual edit: restore ` +
        `it from a backup, or repair the JSON if you know the values. Deleting it makes this node forget its vote, ` +
        `so it could vote twice in one epoch: delete it only while the other voters have an elected leader, and on ` +
        `one voter at a time.`,
    );
    this.name = 'QuorumStateError';
  }
}

/**
 * The election state stored in `dir` (the metadata partition's directory), or null when there is
 * no quorum-state file (a new node). Throws QuorumStateError when the file is there but corrupt.
 */
export async function readQuorumState(dir: string): Promise<ElectionState | null> {
  const file = path.join(dir, QUORUM_STATE_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const parsed = parseQuorumState(text);
  if (typeof parsed === 'string') throw new QuorumStateError(file, parsed);
  return parsed;
}

/**
 * Replaces the election state in `dir` durably: when the promise resolves, the new state is on
 * disk (file and directory entry fsynced) and a crash can no longer bring the old one back.
 * `voters` fills Kafka's `currentVoters` (informational for data_version 0; Kafka reads it but
 * takes the voters from its configuration). Callers serialize writes to one directory.
 */
export async function writeQuorumState(
  dir: string,
  state: ElectionState,
  voters: readonly number[] = [],
): Promise<void> {
  const problem = checkState(state) ?? voters.map((v) => checkInt32('voter id', v, 0)).find((p) => p !== null);
  if (problem) throw new RangeError(`cannot write ${QUORUM_STATE_FILE}: ${problem}`);
  const file = path.join(dir, QUORUM_STATE_FILE);
  const tmp = `${file}.tmp`;
  try {
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(formatQuorumState(state, voters));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await syncDir(dir);
}

/** The file's one line, exactly as Kafka's FileQuorumStateStore writes data_version 0. */
export function formatQuorumState(state: ElectionState, voters: readonly number[] = []): string {
  return JSON.stringify({
    clusterId: '',
    leaderId: state.leaderId,
    leaderEpoch: state.epoch,
    votedId: state.votedId,
    appliedOffset: 0,
    currentVoters: voters.map((voterId) => ({ voterId })),
    data_version: WRITE_VERSION,
  });
}

/** The election state in a quorum-state file's text, or why it is not one. */
export function parseQuorumState(text: string): ElectionState | string {
  // Kafka reads the first line only.
  const line = text.split('\n', 1)[0].trim();
  if (line === '') return 'the file is empty';
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch (err) {
    return `not JSON (${(err as Error).message})`;
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return 'not a JSON object';
  const fields = json as Record<string, unknown>;
  const version = fields.data_version;
  if (version === undefined) return 'no data_version field';
  if (typeof version !== 'number' || !READABLE_VERSIONS.includes(version))
    return `data_version ${JSON.stringify(version)} is not one of ${READABLE_VERSIONS.join(', ')}`;
  const state = { epoch: fields.leaderEpoch, leaderId: fields.leaderId, votedId: fields.votedId };
  const problem = checkState(state);
  if (problem) return problem;
  return state as ElectionState;
}

function checkState(state: { epoch: unknown; leaderId: unknown; votedId: unknown }): string | null {
  return (
    checkInt32('leaderEpoch', state.epoch, 0) ??
    checkInt32('leaderId', state.leaderId, -1) ??
    checkInt32('votedId', state.votedId, -1)
  );
}

function checkInt32(name: string, value: unknown, min: number): string | null {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < Math.max(min, INT32_MIN) || value > INT32_MAX)
    return `${name} is ${JSON.stringify(value)}, not an int32 >= ${min}`;
  return null;
}

function exampleLine(): string {
  return formatQuorumState({ epoch: 2, leaderId: 1, votedId: -1 }, [1, 2, 3]);
}

/** Makes the rename in `dir` durable. */
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
