// The broker under benchmark (the built dist/broker/main.js, started by the tests' launcher,
// optionally with Node flags such as --cpu-prof), and its CPU time and memory from /proc.

import { readFileSync } from 'node:fs';
import { copyFile, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startBroker } from '../test/broker-process.js';
import { machineBusyCpuMs } from './machine.js';
import { summarizeProfileFile } from './profile-summary.js';

const STOP_TIMEOUT_MS = 30_000;
/** USER_HZ: /proc/<pid>/stat counts CPU time in these ticks; 100 on every Linux we run on. */
const CLOCK_TICKS_PER_SECOND = 100;
const PROBLEMS_KEPT = 20;

export interface BenchBroker {
  readonly pid: number;
  readonly bootstrap: string;
  output(): string;
  /** Log lines at warn level or above (pino level >= 40) and non-JSON lines: the first 20, and how many in all. */
  problems(): { count: number; first: string[] };
  /** SIGTERM (clean shutdown, which also writes a --cpu-prof profile); resolves with the exit code. */
  stop(): Promise<number | null>;
}

export async function startBenchBroker(options: {
  dataDir: string;
  nodeArgs?: string[];
  overrides?: Record<string, string>;
}): Promise<BenchBroker> {
  const broker = await startBroker({
    dataDir: options.dataDir,
    nodeArgs: options.nodeArgs,
    overrides: { 'auto.create.topics.enable': 'false', ...options.overrides },
  });
  return {
    pid: broker.pid,
    bootstrap: broker.bootstrap,
    output: () => broker.output(),
    problems: () =>
      problemLines(broker.output(), (l) => {
        const level = /^\{"level":(\d+)/.exec(l);
        return !level || Number(level[1]) >= 40;
      }),
    async stop() {
      const timer = setTimeout(() => void broker.kill9(), STOP_TIMEOUT_MS);
      const code = await broker.stop();
      clearTimeout(timer);
      return code;
    },
  };
}

/** The lines of a broker's output that `isProblem` picks: the first 20, and how many in all. */
export function problemLines(output: string, isProblem: (line: string) => boolean): { count: number; first: string[] } {
  const bad = output.split('\n').filter((l) => l.trim() !== '' && isProblem(l));
  return { count: bad.length, first: bad.slice(0, PROBLEMS_KEPT).map((l) => l.slice(0, 500)) };
}

export interface ProfiledBroker {
  broker: BenchBroker;
  /**
   * Stops the broker (which writes its profile), summarizes the samples taken within `window`
   * (µs of process.hrtime, see profile-summary.ts) and keeps the profile as os.tmpdir()/`keepAs`.
   */
  finish(window: { fromUs: number; toUs: number }, keepAs: string): Promise<{ summary: string; kept: string }>;
  /** Stops the broker if it still runs and removes the profile; for clean-up after a failure. */
  discard(): Promise<void>;
}

/** A broker under `node --cpu-prof`. */
export async function startProfiledBroker(options: {
  dataDir: string;
  overrides?: Record<string, string>;
}): Promise<ProfiledBroker> {
  const profileDir = await mkdtemp(path.join(os.tmpdir(), 'runnel-bench-profile-'));
  let running = true;
  const broker = await startBenchBroker({ ...options, nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] }).catch(
    async (err: unknown) => {
      await rm(profileDir, { recursive: true, force: true });
      throw err;
    },
  );
  const discard = async () => {
    if (running) await broker.stop();
    running = false;
    await rm(profileDir, { recursive: true, force: true });
  };
  return {
    broker,
    discard,
    async finish(window, keepAs) {
      const code = await broker.stop();
      running = false;
      try {
        const profiles = (await readdir(profileDir)).filter((f) => f.endsWith('.cpuprofile'));
        if (profiles.length !== 1)
          throw new Error(
            `expected one .cpuprofile in ${profileDir} (broker exited with ${code}), found ${profiles.length}`,
          );
        const file = path.join(profileDir, profiles[0]);
        const kept = path.join(os.tmpdir(), keepAs);
        await copyFile(file, kept);
        return { summary: summarizeProfileFile(file, 25, window), kept };
      } finally {
        await discard();
      }
    },
  };
}

/**
 * CPU around one client run: the broker's (all threads, and its main thread; summed over every
 * process when `brokerPid` lists several, as a cluster's nodes), and everything else on the
 * machine (the client's own CPU, which `run` reports, left out).
 */
export async function measured<T extends { elapsedMs: number; cpuMs: number }>(
  brokerPid: number | readonly number[],
  run: () => Promise<T>,
): Promise<{ result: T; brokerCpuMs: number; brokerMainThreadCpuMs: number; otherCpuMs: number }> {
  const brokerBefore = processesCpuMs(brokerPid);
  const machineBefore = machineBusyCpuMs();
  const result = await run();
  const brokerAfter = processesCpuMs(brokerPid);
  const brokerCpuMs = brokerAfter.allMs - brokerBefore.allMs;
  const machineMs = machineBusyCpuMs() - machineBefore;
  // The benchmark process itself, mostly idle while the client runs, counts as "other".
  return {
    result,
    brokerCpuMs,
    brokerMainThreadCpuMs: brokerAfter.mainMs - brokerBefore.mainMs,
    otherCpuMs: Math.max(0, machineMs - brokerCpuMs - result.cpuMs),
  };
}

/** processCpuMs of one process, or summed over several. */
export function processesCpuMs(pids: number | readonly number[]): { allMs: number; mainMs: number } {
  const each = (typeof pids === 'number' ? [pids] : pids).map(processCpuMs);
  return { allMs: each.reduce((a, c) => a + c.allMs, 0), mainMs: each.reduce((a, c) => a + c.mainMs, 0) };
}

/** Now on the monotonic clock that V8's profiler stamps its samples with, in µs. */
export const monotonicUs = (): number => Number(process.hrtime.bigint() / 1000n);

/** CPU time (user + system) the process has used so far, in ms: all threads, and its main thread. */
export function processCpuMs(pid: number): { allMs: number; mainMs: number } {
  const all = statFields(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  const main = statFields(readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8'));
  const ms = (f: string[]) => ((Number(f[13]) + Number(f[14])) * 1000) / CLOCK_TICKS_PER_SECOND;
  return { allMs: ms(all), mainMs: ms(main) };
}

/**
 * CPU time of this process's children that have exited and been reaped, in ms. Node reaps
 * its children (kcat, the latency client) itself, so the difference around one child's run is
 * that child's CPU time.
 */
export function reapedChildrenCpuMs(): number {
  const fields = statFields(readFileSync('/proc/self/stat', 'utf8'));
  return ((Number(fields[15]) + Number(fields[16])) * 1000) / CLOCK_TICKS_PER_SECOND;
}

/** Peak resident set size of a process in MiB (VmHWM). */
export function peakRssMiB(pid: number): number | null {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : null;
}

/** Fields of /proc/<pid>/stat, field 1 (pid) at index 0; the command name may hold spaces. */
function statFields(stat: string): string[] {
  const close = stat.lastIndexOf(')');
  return [
    stat.slice(0, stat.indexOf(' ')),
    stat.slice(stat.indexOf('(') + 1, close),
    ...stat
      .slice(close + 2)
      .trim()
      .split(' '),
  ];
}
