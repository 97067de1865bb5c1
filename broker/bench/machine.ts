// What the benchmark ran on, and how fast the data directory's disk takes a plain sequential
// write from Node, as a ceiling to compare the broker with.

import { readFileSync } from 'node:fs';
import { open, unlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  node: string;
  os: string;
  /** Device and filesystem type holding the data directory. */
  filesystem: string;
  loadAverage: string;
}

export function machineInfo(dataDir: string): MachineInfo {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    filesystem: filesystemOf(dataDir),
    loadAverage: loadAverage(),
  };
}

export function loadAverage(): string {
  return os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' / ');
}

/** "<device> (<fstype>) mounted on <dir>" for the mount holding `dir`, from /proc/mounts. */
function filesystemOf(dir: string): string {
  try {
    let best: string[] | undefined;
    for (const line of readFileSync('/proc/mounts', 'utf8').split('\n')) {
      const [device, mountPoint, type] = line.split(' ');
      if (!device || !mountPoint || !type) continue;
      const inside = dir === mountPoint || dir.startsWith(mountPoint.endsWith('/') ? mountPoint : mountPoint + '/');
      if (inside && (!best || mountPoint.length > best[1].length)) best = [device, mountPoint, type];
    }
    return best ? `${best[0]} (${best[2]}) mounted on ${best[1]}` : 'unknown';
  } catch {
    return 'unknown';
  }
}

export interface DiskProbe {
  bytes: number;
  /** Sequential 1 MiB writes into the page cache, no fsync. */
  bufferedMBps: number;
  /** The same writes followed by one fsync, timed to its end: what the device sustained. */
  syncedMBps: number;
}

/** Writes `bytes` sequentially in 1 MiB chunks into a file in `dir`, then fsyncs it. */
export async function probeDisk(dir: string, bytes: number): Promise<DiskProbe> {
  const file = path.join(dir, 'disk-probe.tmp');
  const chunk = Buffer.alloc(1 << 20, 0x5a);
  const fh = await open(file, 'w');
  try {
    const started = performance.now();
    for (let written = 0; written < bytes; written += chunk.length) await fh.write(chunk, 0, chunk.length, written);
    const buffered = performance.now();
    await fh.sync();
    const synced = performance.now();
    return {
      bytes,
      bufferedMBps: bytes / 1e6 / ((buffered - started) / 1000),
      syncedMBps: bytes / 1e6 / ((synced - started) / 1000),
    };
  } finally {
    await fh.close();
    await unlink(file);
  }
}

/** CPU time the whole machine spent busy (all cores, not idle or iowait) since boot, in ms. */
export function machineBusyCpuMs(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  // cpu user nice system idle iowait irq softirq steal ...
  const [user, nice, system, , , irq, softirq] = line.trim().split(/\s+/).slice(1).map(Number);
  const ticks = (user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0);
  return ticks * 10; // USER_HZ = 100
}

/** CPU time spent busy at normal priority or above (user + system, not `nice`d work), in ms. */
function unnicedBusyCpuMs(): number {
  const [user, , system, , , irq, softirq] = readFileSync('/proc/stat', 'utf8')
    .split('\n')[0]
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  return ((user ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0)) * 10;
}

/**
 * Waits, up to `maxWaitS` seconds, until other processes use less than `maxCores` of CPU at
 * normal priority for three 2-second windows in a row (`nice`d background work is ignored: it
 * yields to the benchmark). Returns what was seen last, in cores.
 */
export async function waitForQuiet(
  maxWaitS: number,
  maxCores = 0.25,
): Promise<{ quiet: boolean; cores: number; waitedS: number }> {
  const started = Date.now();
  let calm = 0;
  let cores = 0;
  while ((Date.now() - started) / 1000 < maxWaitS) {
    const before = unnicedBusyCpuMs();
    await new Promise((resolve) => setTimeout(resolve, 2000));
    cores = (unnicedBusyCpuMs() - before) / 2000;
    calm = cores < maxCores ? calm + 1 : 0;
    if (calm >= 3) return { quiet: true, cores, waitedS: (Date.now() - started) / 1000 };
  }
  return { quiet: false, cores, waitedS: (Date.now() - started) / 1000 };
}

/**
 * Waits for a quiet machine when the environment variable BENCH_WAIT_QUIET (seconds, at most)
 * asks to; says what it found, or null when it did not wait.
 */
export async function waitForQuietIfAsked(log: (line: string) => void): Promise<string | null> {
  const waitS = Number(process.env.BENCH_WAIT_QUIET ?? 0);
  if (waitS <= 0) return null;
  log(`waiting up to ${waitS} s for the machine to go quiet`);
  const q = await waitForQuiet(waitS);
  const found = q.quiet
    ? `started once other processes had used under 0.25 cores for 6 s (after ${q.waitedS.toFixed(0)} s of waiting)`
    : `other processes were still using ${q.cores.toFixed(2)} cores after ${q.waitedS.toFixed(0)} s of waiting; ran anyway`;
  log(found);
  return found;
}
