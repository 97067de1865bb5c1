// Summarizes a V8 .cpuprofile (from `node --cpu-prof`): where the process spent its time, by
// function (self and total time) and by kind of code. Usable on its own:
//   node dist/broker/bench/profile-summary.js <file.cpuprofile> [top]

import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface FunctionTime {
  name: string;
  where: string;
  category: string;
  selfMs: number;
  totalMs: number;
}

export interface ProfileSummary {
  wallMs: number;
  idleMs: number;
  busyMs: number;
  categories: Array<{ category: string; selfMs: number }>;
  functions: FunctionTime[];
}

/** Kinds of code, so that "the broker's own code" can be told from the runtime and libraries. */
function categoryOf(frame: CallFrame): string {
  const { functionName: name, url } = frame;
  if (name === '(idle)') return 'idle';
  if (name === '(garbage collector)') return 'garbage collection';
  if (name === '(program)') return 'V8/native (program)';
  if (url === '') return 'native/builtins';
  if (url.startsWith('node:')) return 'Node internals';
  if (url.includes('/node_modules/')) return `library: ${/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1] ?? '?'}`;
  if (url.includes('/broker/')) return `broker: ${/\/broker\/([^/]+)\//.exec(url)?.[1] ?? 'main'}`;
  return 'other';
}

function whereOf(frame: CallFrame): string {
  if (frame.url === '') return '';
  const file = frame.url.replace(/^file:\/\//, '');
  const short = file.includes('/dist/')
    ? file.slice(file.indexOf('/dist/') + 6)
    : file.includes('/node_modules/')
      ? file.slice(file.indexOf('/node_modules/') + 14)
      : file;
  return `${short}:${frame.lineNumber + 1}`;
}

/**
 * `window` limits the summary to samples taken within it, in µs of the monotonic clock that
 * both V8's profiler and process.hrtime read (so another process on the machine can mark it).
 */
export function summarizeProfile(profile: CpuProfile, window?: { fromUs: number; toUs: number }): ProfileSummary {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of profile.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const keyOf = (n: ProfileNode) =>
    `${n.callFrame.functionName}|${n.callFrame.url}|${n.callFrame.lineNumber}|${n.callFrame.columnNumber}`;
  const fns = new Map<string, FunctionTime>();
  const fnOf = (n: ProfileNode): FunctionTime => {
    const key = keyOf(n);
    let f = fns.get(key);
    if (!f) {
      f = {
        name: n.callFrame.functionName || '(anonymous)',
        where: whereOf(n.callFrame),
        category: categoryOf(n.callFrame),
        selfMs: 0,
        totalMs: 0,
      };
      fns.set(key, f);
    }
    return f;
  };
  // Each sample's time is the delta to the next sample (the last one has none).
  const deltas = profile.timeDeltas;
  let at = profile.startTime;
  let firstUs = Number.POSITIVE_INFINITY;
  let lastUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    at += deltas[i] ?? 0;
    const ms = (deltas[i + 1] ?? 0) / 1000;
    if (ms <= 0) continue;
    if (window && (at < window.fromUs || at > window.toUs)) continue;
    firstUs = Math.min(firstUs, at);
    lastUs = Math.max(lastUs, at + ms * 1000);
    let node = byId.get(profile.samples[i]);
    if (!node) continue;
    fnOf(node).selfMs += ms;
    const seen = new Set<FunctionTime>();
    while (node) {
      const f = fnOf(node);
      if (!seen.has(f)) {
        seen.add(f);
        f.totalMs += ms;
      }
      const up = parent.get(node.id);
      node = up === undefined ? undefined : byId.get(up);
    }
  }
  const functions = [...fns.values()].filter((f) => f.name !== '(root)');
  const categories = new Map<string, number>();
  for (const f of functions) categories.set(f.category, (categories.get(f.category) ?? 0) + f.selfMs);
  const idleMs = categories.get('idle') ?? 0;
  const sampledMs = [...categories.values()].reduce((a, b) => a + b, 0);
  return {
    wallMs: window ? Math.max(0, lastUs - firstUs) / 1000 : (profile.endTime - profile.startTime) / 1000,
    idleMs,
    busyMs: sampledMs - idleMs,
    categories: [...categories].map(([category, selfMs]) => ({ category, selfMs })).sort((a, b) => b.selfMs - a.selfMs),
    functions: functions.sort((a, b) => b.selfMs - a.selfMs),
  };
}

const pct = (part: number, whole: number) => (whole > 0 ? `${((100 * part) / whole).toFixed(1)}%` : '-');
const ms = (v: number) => v.toFixed(0);

/** Markdown: categories, top functions by self time, top broker functions by total time. */
export function formatProfileSummary(s: ProfileSummary, top = 25): string {
  const lines: string[] = [];
  lines.push(
    `Profiled ${ms(s.wallMs)} ms of wall time on the main thread: ${ms(s.busyMs)} ms busy (${pct(s.busyMs, s.wallMs)}), ${ms(s.idleMs)} ms idle. Percentages below are of busy time.`,
    '',
    '| kind of code | self ms | share |',
    '|---|---:|---:|',
    ...s.categories
      .filter((c) => c.category !== 'idle')
      .map((c) => `| ${c.category} | ${ms(c.selfMs)} | ${pct(c.selfMs, s.busyMs)} |`),
    '',
    `Top ${top} functions by self time:`,
    '',
    '| function | where | kind | self ms | self | total |',
    '|---|---|---|---:|---:|---:|',
    ...s.functions
      .filter((f) => f.category !== 'idle')
      .slice(0, top)
      .map(
        (f) =>
          `| ${f.name} | ${f.where} | ${f.category} | ${ms(f.selfMs)} | ${pct(f.selfMs, s.busyMs)} | ${pct(f.totalMs, s.busyMs)} |`,
      ),
    '',
    `Top ${top} broker functions by total time (self + callees):`,
    '',
    '| function | where | total ms | total | self |',
    '|---|---|---:|---:|---:|',
    ...s.functions
      .filter((f) => f.category.startsWith('broker'))
      .sort((a, b) => b.totalMs - a.totalMs)
      .slice(0, top)
      .map(
        (f) =>
          `| ${f.name} | ${f.where} | ${ms(f.totalMs)} | ${pct(f.totalMs, s.busyMs)} | ${pct(f.selfMs, s.busyMs)} |`,
      ),
  );
  return lines.join('\n');
}

export function summarizeProfileFile(file: string, top?: number, window?: { fromUs: number; toUs: number }): string {
  return formatProfileSummary(summarizeProfile(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, window), top);
}

/** Writes (and prints) a profile's page: a title, what ran, a line per measured run, and the summary. */
export async function writeProfileReport(
  file: string,
  page: { title: string; intro: string; lines: string[]; summary: string },
): Promise<void> {
  const markdown = [
    `# ${page.title}`,
    '',
    page.intro,
    '',
    ...page.lines.map((l) => `- ${l}`),
    '',
    page.summary,
    '',
  ].join('\n');
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, markdown);
  process.stdout.write(markdown + '\n');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: node dist/broker/bench/profile-summary.js <file.cpuprofile> [top]\n');
    process.exit(2);
  }
  process.stdout.write(summarizeProfileFile(file, process.argv[3] ? Number(process.argv[3]) : undefined) + '\n');
}
