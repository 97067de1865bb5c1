import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { QUORUM_STATE_FILE, QuorumStateError, readQuorumState, writeQuorumState } from './quorum-state.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function metadataDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'runnel-quorum-state-'));
  dirs.push(dir);
  return dir;
}

describe('quorum-state file', () => {
  it('reads null when a node has no quorum-state yet', async () => {
    expect(await readQuorumState(await metadataDir())).toBeNull();
  });

  it("round-trips the election state, written in Kafka's data_version 0 format and leaving no temporary file", async () => {
    const dir = await metadataDir();
    await writeQuorumState(dir, { epoch: 7, leaderId: -1, votedId: 2 }, [1, 2, 3]);
    expect(await readQuorumState(dir)).toEqual({ epoch: 7, leaderId: -1, votedId: 2 });
    expect(await readFile(path.join(dir, QUORUM_STATE_FILE), 'utf8')).toBe(
      '{"clusterId":"","leaderId":-1,"leaderEpoch":7,"votedId":2,"appliedOffset":0,' +
        '"currentVoters":[{"voterId":1},{"voterId":2},{"voterId":3}],"data_version":0}',
    );
    expect(await readdir(dir)).toEqual([QUORUM_STATE_FILE]);

    await writeQuorumState(dir, { epoch: 8, leaderId: 3, votedId: -1 });
    expect(await readQuorumState(dir)).toEqual({ epoch: 8, leaderId: 3, votedId: -1 });
  });

  it('reads the files Kafka writes, data_version 0 and 1 (dynamic voters, with votedDirectoryId)', async () => {
    const dir = await metadataDir();
    const file = path.join(dir, QUORUM_STATE_FILE);
    await writeFile(
      file,
      '{"clusterId":"","leaderId":1,"leaderEpoch":2,"votedId":-1,"appliedOffset":0,"currentVoters":[],"data_version":0}',
    );
    expect(await readQuorumState(dir)).toEqual({ epoch: 2, leaderId: 1, votedId: -1 });
    await writeFile(
      file,
      '{"leaderId":-1,"leaderEpoch":2,"votedId":1,"votedDirectoryId":"J8aAPcfLQt2bqs1JT_rMgQ","data_version":1}\n',
    );
    expect(await readQuorumState(dir)).toEqual({ epoch: 2, leaderId: -1, votedId: 1 });
  });

  it('refuses a corrupt file with an error that names it and says what to do', async () => {
    const dir = await metadataDir();
    const file = path.join(dir, QUORUM_STATE_FILE);
    const cases: Array<[string, RegExp]> = [
      ['', /empty/],
      ['{"leaderId":1,"leaderEp', /not JSON/],
      ['[1,2]', /not a JSON object/],
      ['{"leaderId":1,"leaderEpoch":2,"votedId":-1}', /no data_version/],
      ['{"leaderId":1,"leaderEpoch":2,"votedId":-1,"data_version":2}', /data_version 2 is not one of 0, 1/],
      ['{"leaderId":1,"leaderEpoch":-3,"votedId":-1,"data_version":0}', /leaderEpoch is -3/],
      ['{"leaderId":"1","leaderEpoch":2,"votedId":-1,"data_version":0}', /leaderId is "1"/],
      ['{"leaderId":1,"leaderEpoch":2,"data_version":0}', /votedId is undefined/],
    ];
    for (const [text, reason] of cases) {
      await writeFile(file, text);
      const err = await readQuorumState(dir).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err, text).toBeInstanceOf(QuorumStateError);
      expect((err as QuorumStateError).file).toBe(file);
      expect((err as Error).message).toContain(file);
      expect((err as Error).message).toMatch(reason);
      expect((err as Error).message).toMatch(/restore it from a backup/);
    }
  });

  it('ignores a temporary file left by a crash during a write, and replaces it on the next write', async () => {
    const dir = await metadataDir();
    await writeQuorumState(dir, { epoch: 4, leaderId: 1, votedId: 1 });
    await writeFile(path.join(dir, `${QUORUM_STATE_FILE}.tmp`), '{"leaderId":9');
    expect(await readQuorumState(dir)).toEqual({ epoch: 4, leaderId: 1, votedId: 1 });
    await writeQuorumState(dir, { epoch: 5, leaderId: -1, votedId: -1 });
    expect(await readQuorumState(dir)).toEqual({ epoch: 5, leaderId: -1, votedId: -1 });
    expect(await readdir(dir)).toEqual([QUORUM_STATE_FILE]);
  });

  it('refuses to write a state Kafka could not read', async () => {
    const dir = await metadataDir();
    await expect(writeQuorumState(dir, { epoch: -1, leaderId: -1, votedId: -1 })).rejects.toThrow(/leaderEpoch/);
    await expect(writeQuorumState(dir, { epoch: 1, leaderId: 2 ** 31, votedId: -1 })).rejects.toThrow(/leaderId/);
    expect(await readQuorumState(dir)).toBeNull();
  });
});
