import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { OffsetIndex } from './offset-index.js';
import { TimeIndex } from './time-index.js';

const roots: string[] = [];
afterEach(async () => {
  for (const root of roots.splice(0)) await rm(root, { recursive: true, force: true });
});

async function tmpFile(name: string): Promise<string> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'runnel-index-'));
  roots.push(root);
  return path.join(root, name);
}

describe('OffsetIndex', () => {
  it('looks up the last entry at or below an offset and survives a persist and load', async () => {
    const file = await tmpFile('00000000000000001000.index');
    const index = OffsetIndex.empty(file, 1000);
    expect(index.lookup(1500)).toBe(0);
    for (let i = 1; i <= 200; i++) index.append(1000 + 10 * i, 100 * i);
    await index.persist(false);
    const loaded = await OffsetIndex.load(file, 1000, 100_000);
    if (typeof loaded === 'string') throw new Error(loaded);
    for (const idx of [index, loaded]) {
      expect(idx.lookup(1009)).toBe(0);
      expect(idx.lookup(1010)).toBe(100);
      expect(idx.lookup(1019)).toBe(100);
      expect(idx.lookup(2999)).toBe(19_900);
      expect(idx.lookup(9999)).toBe(20_000);
    }
  });

  it('refuses entries that do not advance and files that are damaged', async () => {
    const file = await tmpFile('00000000000000000000.index');
    const index = OffsetIndex.empty(file, 0);
    index.append(5, 0);
    expect(() => index.append(5, 10)).toThrow(RangeError);
    await writeFile(file, Buffer.alloc(12));
    expect(await OffsetIndex.load(file, 0, 100)).toMatch(/multiple of 8/);
    await writeFile(file, Buffer.alloc(16));
    expect(await OffsetIndex.load(file, 0, 100)).toMatch(/entry 1/);
    expect(await OffsetIndex.load(`${file}.missing`, 0, 100)).toMatch(/missing/);
  });
});

describe('TimeIndex', () => {
  it('appends only growing timestamps and looks up the last entry at or below a timestamp', async () => {
    const file = await tmpFile('00000000000000000100.timeindex');
    const index = TimeIndex.empty(file, 100);
    index.maybeAppend(-1, 100);
    index.maybeAppend(5000, 110);
    index.maybeAppend(5000, 120);
    index.maybeAppend(4000, 130);
    index.maybeAppend(7000, 140);
    expect(index.count).toBe(2);
    expect(index.lookup(4999)).toBe(100);
    expect(index.lookup(6999)).toBe(110);
    expect(index.lookup(7000)).toBe(140);
    await index.persist(false);
    expect(await TimeIndex.readLastEntry(file, 100)).toEqual({ timestamp: 7000, offset: 140 });
    const loaded = await TimeIndex.load(file, 100);
    expect(typeof loaded !== 'string' && loaded.lastEntry()).toEqual({ timestamp: 7000, offset: 140 });
  });
});
