// kcat (librdkafka, from Debian): its side of the compatibility matrix (see ../tasks.ts). The
// driver runs kcat itself, once per step. kcat sets partition and headers per invocation
// (-p, -H) and cannot set a record's timestamp, so the matrix gives it records whose headers are
// constant within a partition and whose timestamps the producer assigns. kcat does not report
// the offsets it was given when producing, and has no admin operations.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { ReadRecord, RecordSpec } from '../records.js';
import type { MemberResult, MemberTask, GroupResult, GroupTask, ProduceTask, ReadResult, ReadTask } from '../tasks.js';
import { runDriver, sleep } from './main.js';

const STEP_TIMEOUT_MS = 60_000;

function kcat(
  args: string[],
  input = '',
  timeoutMs = STEP_TIMEOUT_MS,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('kcat', args, { stdio: [input === '' ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`kcat ${args.join(' ')} did not finish within ${timeoutMs} ms; stderr: ${stderr.slice(-1000)}`));
    }, timeoutMs);
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    if (child.stdin) {
      // kcat may exit before reading everything (on an error): that is reported by its exit code.
      child.stdin.on('error', () => {});
      child.stdin.end(input);
    }
  });
}

function checkLine(field: string, s: string): string {
  if (/[\t\n]/.test(s)) throw new Error(`kcat cannot produce a ${field} with a tab or newline: ${JSON.stringify(s)}`);
  return s;
}

/** kcat reports no offsets, so the result stays empty (ProduceResult.delivered is optional). */
async function produce(task: ProduceTask): Promise<void> {
  // Consecutive records with the same partition and headers go through one kcat run.
  const runs: RecordSpec[][] = [];
  for (const r of task.records) {
    if (r.timestamp !== null) throw new Error('kcat cannot set a record timestamp');
    const last = runs[runs.length - 1];
    if (last && last[0].partition === r.partition && JSON.stringify(last[0].headers) === JSON.stringify(r.headers))
      last.push(r);
    else runs.push([r]);
  }
  for (const run of runs) {
    const args = [
      '-b',
      task.bootstrap,
      '-P',
      '-t',
      task.topic,
      '-p',
      String(run[0].partition),
      '-K',
      '\t',
      '-X',
      'linger.ms=20',
      '-X',
      'acks=all',
    ];
    for (const [k, v] of run[0].headers) args.push('-H', `${checkLine('header', k)}=${checkLine('header', v)}`);
    if (task.compression !== 'none') args.push('-z', task.compression);
    if (task.idempotence === 'on') args.push('-X', 'enable.idempotence=true');
    if (task.idempotence === 'off') args.push('-X', 'enable.idempotence=false');
    const input = run.map((r) => `${checkLine('key', r.key)}\t${checkLine('value', r.value)}\n`).join('');
    const { code, stderr } = await kcat(args, input);
    if (code !== 0 || /ERROR|failed to deliver/i.test(stderr))
      throw new Error(`kcat -P exited with ${code}: ${stderr.trim().slice(-1500)}`);
  }
}

interface KcatJson {
  partition: number;
  offset: number;
  ts: number;
  key: string | null;
  payload: string | null;
  headers?: string[];
}

function parse(stdout: string): ReadRecord[] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => {
      const j = JSON.parse(l) as KcatJson;
      const headers: Array<[string, string]> = [];
      for (let i = 0; i + 1 < (j.headers ?? []).length; i += 2) headers.push([j.headers![i], j.headers![i + 1]]);
      return { partition: j.partition, offset: j.offset, key: j.key, value: j.payload, headers, timestamp: j.ts };
    });
}

async function read(task: ReadTask, out: ReadResult): Promise<void> {
  const records: ReadRecord[] = [];
  out.records = records;
  for (let p = 0; p < task.endOffsets.length; p++) {
    const count = task.endOffsets[p];
    if (count === 0) continue;
    const { code, stdout, stderr } = await kcat(
      [
        '-b',
        task.bootstrap,
        '-C',
        '-t',
        task.topic,
        '-p',
        String(p),
        '-o',
        'beginning',
        '-c',
        String(count),
        '-e',
        '-J',
      ],
      '',
      task.deadlineMs,
    );
    records.push(...parse(stdout));
    if (code !== 0) throw new Error(`kcat -C exited with ${code}: ${stderr.trim().slice(-1500)}`);
  }
}

async function group(task: GroupTask, out: GroupResult): Promise<void> {
  // The balanced consumer (-G) with librdkafka's defaults: offsets auto-committed, and
  // committed again when kcat closes the consumer after -c records.
  const { code, stdout, stderr } = await kcat(
    [
      '-b',
      task.bootstrap,
      '-G',
      task.groupId,
      '-X',
      'auto.offset.reset=earliest',
      '-c',
      String(task.count),
      '-J',
      task.topic,
    ],
    '',
    task.deadlineMs,
  ).catch((e: Error) => ({ code: -1, stdout: '', stderr: e.message }));
  out.records = parse(stdout);
  if (code !== 0) throw new Error(`kcat -G exited with ${code}: ${stderr.trim().slice(-1500)}`);
}

/** A balanced consumer (-G) until told to stop; its assignment comes from kcat's rebalance lines on stderr. */
async function member(task: MemberTask, out: MemberResult): Promise<void> {
  const child = spawn(
    'kcat',
    [
      '-b',
      task.bootstrap,
      '-G',
      task.groupId,
      '-X',
      'auto.offset.reset=earliest',
      '-X',
      'auto.commit.interval.ms=200',
      '-J',
      task.topic,
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  let pending = '';
  let assignment: number[] = [];
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    pending += d.toString();
    let nl;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      // % Group g rebalanced (memberid …): assigned: topic [0], topic [2]   (or revoked: …)
      const m = /rebalanced \(memberid [^)]*\): (assigned|revoked): (.*)$/.exec(line);
      if (!m) continue;
      const listed = [...m[2].matchAll(/\[(\d+)\]/g)].map((x) => Number(x[1]));
      assignment = m[1] === 'assigned' ? listed.sort((a, b) => a - b) : assignment.filter((p) => !listed.includes(p));
      process.stdout.write(JSON.stringify({ event: 'assigned', partitions: assignment }) + '\n');
    }
  });
  const end = Date.now() + task.deadlineMs;
  let code: number | null;
  try {
    while (!existsSync(task.stopFile)) {
      if (Date.now() > end) throw new Error('not told to stop before the deadline');
      if (child.exitCode !== null)
        throw new Error(`kcat -G exited early with ${child.exitCode}: ${stderr.trim().slice(-1500)}`);
      await sleep(100);
    }
    out.assignment = assignment;
  } finally {
    // SIGTERM: kcat closes the consumer (committing what it read) and leaves the group.
    child.kill('SIGTERM');
    code = await exited;
    out.records = parse(stdout);
  }
  // Reached only when told to stop (an error above has already left).
  if (code !== 0) throw new Error(`kcat -G exited with ${code} on SIGTERM: ${stderr.trim().slice(-1500)}`);
}

async function version(_task: unknown, out: Record<string, unknown>): Promise<void> {
  const { stdout, stderr } = await kcat(['-V']);
  const text = stdout + stderr;
  const m = /Version (\S+).*librdkafka (\S+)/.exec(text);
  if (!m) throw new Error(`cannot read kcat's version from: ${text}`);
  out.name = 'kcat';
  out.version = m[1];
  out.runtime = `librdkafka ${m[2]}`;
}

await runDriver({ produce, read, group, member, version });
