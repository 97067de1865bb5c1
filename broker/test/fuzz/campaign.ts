// One fuzz run against a live broker process. The invariants, checked throughout and at the
// end, are what a broker owes any client however broken its bytes:
//   - the process never exits, and its RSS stays under a bound;
//   - a watchdog connection's ApiVersions + Metadata is answered within a bound, every ~500 ms;
//   - a response to a request that decodes is itself well formed and carries its correlation id;
//   - the data stored before the run (kept topics, kept group's offsets) reads back the same,
//     and the broker stops cleanly and restarts on the same data dir with that data intact.
// A broken invariant is a finding with the cases sent just before it (seed, index, hex); after
// a crash, hang or memory finding the broker is restarted on its data dir and the run goes on.
// Closing a connection is a legitimate answer to garbage: workers just reconnect.

import { readFileSync } from 'node:fs';
import { ApiVersions, Metadata } from '../../protocol/messages/index.js';
import { startBroker, type BrokerProcess } from '../broker-process.js';
import { RawConnection, decodeResponse } from '../raw-client.js';
import { buildCorpus, type Corpus } from './corpus.js';
import { generateCase, shortHex, type FuzzCase } from './mutate.js';
import { seedBroker, snapshotChanges, takeSnapshot, type Snapshot } from './seed-data.js';

export type FindingKind =
  | 'crash'
  | 'hang'
  | 'memory'
  | 'bad-response'
  | 'request-failed'
  | 'data-change'
  | 'restart-failure'
  | 'unclean-shutdown';

export interface SuspectCase {
  index: number;
  seedApi: string;
  mutations: string[];
  bytes: number;
  hex: string;
  /** Milliseconds between sending the case and the finding. */
  sentMsBefore: number;
  /** Whether the case was still waiting for its answer when the finding was made. */
  inFlight: boolean;
}

export interface Finding {
  kind: FindingKind;
  /** Same signature, same bug (more or less): findings are grouped by it. */
  signature: string;
  summary: string;
  runSeed: number;
  suspects: SuspectCase[];
  brokerOutput: string;
  occurrences: number;
}

export interface CampaignOptions {
  runSeed: number;
  requests: number;
  /** Parallel fuzz connections. */
  connections?: number;
  /** Only these case indices, in order, on one connection (replaying a finding). */
  replay?: number[];
  /** Why a case is not sent (a known issue), or undefined to send it. */
  exclude?: (c: FuzzCase) => string | undefined;
  rssLimitBytes?: number;
  hangAfterMs?: number;
  watchdogEveryMs?: number;
  /** How long a worker waits for the answer to a request that is due one. */
  answerWaitMs?: number;
  /** How long to keep watching after the last case (for late crashes). */
  settleMs?: number;
  maxFindings?: number;
  log?: (line: string) => void;
}

export interface CampaignResult {
  runSeed: number;
  sent: number;
  skipped: Record<string, number>;
  elapsedMs: number;
  requestsPerSecond: number;
  answered: number;
  closedByBroker: number;
  /** Requests due an answer that got none within answerWaitMs, by API (not findings: Fetch and JoinGroup wait). */
  unanswered: Record<string, number>;
  peakRssBytes: number;
  watchdogMaxLatencyMs: number;
  brokerStarts: number;
  findings: Finding[];
}

/**
 * The fuzzed broker's request and fetch limits, lowered from Kafka's defaults (100 MiB frames,
 * 55 MiB fetches) so the memory bound means something: with the defaults, a few connections each
 * holding one legitimate maximum-size request and response already approach 1 GiB. The bound
 * then catches memory the broker keeps beyond what its limits allow.
 */
const BROKER_LIMITS = {
  'socket.request.max.bytes': String(16 * 1024 * 1024),
  'fetch.max.bytes': String(16 * 1024 * 1024),
};

const DEFAULTS = {
  connections: 4,
  rssLimitBytes: 1024 * 1024 * 1024,
  hangAfterMs: 5000,
  watchdogEveryMs: 500,
  answerWaitMs: 300,
  settleMs: 3000,
  maxFindings: 25,
};
/** How long a worker waits after bytes that are due no answer (acks=0, a lying size prefix). */
const NO_ANSWER_WAIT_MS = 20;
const MONITOR_EVERY_MS = 200;
const RECENT_CASES = 256;
const MAX_SUSPECTS = 12;
const OUTPUT_TAIL_LINES = 40;
const ACCEPTED_WRITES_KEPT = 500;
/** APIs whose success changes what is stored. */
const WRITE_APIS = new Set([
  'Produce',
  'OffsetCommit',
  'CreateTopics',
  'DeleteTopics',
  'AlterConfigs',
  'IncrementalAlterConfigs',
  'CreatePartitions',
  'DeleteGroups',
  'OffsetDelete',
  'DeleteRecords',
  'JoinGroup',
  'SyncGroup',
  'LeaveGroup',
  'InitProducerId',
]);

/** Whether any error code in a decoded response is NONE (some part of the request took effect). */
function anySuccess(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(anySuccess);
  if (value && typeof value === 'object' && !Buffer.isBuffer(value)) {
    return Object.entries(value).some(([k, v]) => (k === 'errorCode' && v === 0) || anySuccess(v));
  }
  return false;
}
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface Sent {
  c: FuzzCase;
  at: number;
  done: boolean;
}

/**
 * Memory the process holds, in bytes (RSS less the pages it has freed lazily, which the kernel
 * takes back whenever it needs them: after big transient buffers glibc and V8 return memory with
 * MADV_FREE, and RSS keeps counting it until then), or null when the process is gone (or a zombie).
 */
function rssOf(pid: number): number | null {
  let status: string;
  let rollup: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
    rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  } catch {
    return null;
  }
  if (/^State:\s+Z/m.test(status)) return null;
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(rollup)?.[1] ?? 0);
  return (kb('Rss') - kb('LazyFree')) * 1024;
}

function tail(text: string, lines: number): string {
  return text
    .split('\n')
    .slice(-lines - 1)
    .join('\n');
}

/** The line of broker output that best names a crash: a fatal log line or a thrown error. */
function crashLine(output: string): string {
  const lines = output.split('\n').filter((l) => l.trim());
  const pick =
    [...lines].reverse().find((l) => /"level":(50|60)/.test(l)) ??
    [...lines].reverse().find((l) => /^\w*Error\b|Error:|RangeError|TypeError|FATAL|heap out of memory/.test(l)) ??
    lines[lines.length - 1] ??
    '(no output)';
  const msg = /"msg":"([^"]*)"/.exec(pick)?.[1];
  const err = /"message":"([^"]*)"/.exec(pick)?.[1];
  return (msg ? `${msg}${err ? `: ${err}` : ''}` : pick).slice(0, 200);
}

function normalise(s: string): string {
  return s.replace(/\d+/g, 'N').slice(0, 160);
}

export class Campaign {
  private readonly o: Required<Omit<CampaignOptions, 'replay' | 'exclude'>> &
    Pick<CampaignOptions, 'replay' | 'exclude'>;
  private broker!: BrokerProcess;
  private instance = 0;
  private instanceOutputStart = 0;
  private corpus!: Corpus;
  private before!: Snapshot;
  private readonly findings = new Map<string, Finding>();
  private readonly recent: Sent[] = [];
  /** Cases the broker answered with success somewhere in the response: what a stored-data or restart finding may come from. */
  private readonly acceptedWrites: FuzzCase[] = [];
  private paused: Promise<void> | null = null;
  private stopped = false;
  private incidentRunning = false;
  private next = 0;
  private sent = 0;
  private answered = 0;
  private closedByBroker = 0;
  private readonly skipped: Record<string, number> = {};
  private readonly unanswered: Record<string, number> = {};
  private peakRss = 0;
  private watchdogMax = 0;
  private brokerStarts = 0;
  /** Ids of the fuzz topics as the first broker created them (inputs that name topics by id). */
  private seededTopicIds: Record<string, string> = {};

  constructor(options: CampaignOptions) {
    this.o = { ...DEFAULTS, log: () => {}, ...options };
  }

  async run(): Promise<CampaignResult> {
    const started = Date.now();
    await this.startFresh();
    this.corpus = await buildCorpus(this.seededTopicIds);
    this.before = await takeSnapshot(this.broker.port);
    const monitor = this.monitor();
    const watchdog = this.watchdog();
    const progress = setInterval(() => {
      const s = (Date.now() - started) / 1000;
      this.o.log(
        `… ${this.sent} sent in ${s.toFixed(0)} s (${(this.sent / s).toFixed(0)}/s), RSS peak ${(this.peakRss / 2 ** 20).toFixed(0)} MiB, ${this.findings.size} finding(s)`,
      );
    }, 10_000);
    const fuzzStart = Date.now();
    try {
      if (this.o.replay) await this.worker(this.o.replay.slice());
      else await Promise.all(Array.from({ length: this.o.connections }, () => this.worker(null)));
      const fuzzMs = Date.now() - fuzzStart;
      await this.settle();
      this.stopped = true;
      await Promise.all([monitor, watchdog]);
      await this.finalChecks();
      return this.result(Date.now() - started, fuzzMs);
    } finally {
      this.stopped = true;
      clearInterval(progress);
      await this.broker.kill9().catch(() => {});
    }
  }

  // ---- broker lifecycle ------------------------------------------------------------------

  private async startOn(dataDir?: string, port?: number): Promise<void> {
    this.broker = await startBroker({ dataDir, port, overrides: BROKER_LIMITS });
    this.instance++;
    this.brokerStarts++;
    this.instanceOutputStart = this.broker.output().length;
  }

  private async startFresh(): Promise<void> {
    await this.startOn(undefined, this.broker?.port);
    this.seededTopicIds = await seedBroker(this.broker.port);
    if (this.before) this.before = await takeSnapshot(this.broker.port);
  }

  private instanceOutput(): string {
    return this.broker.output().slice(this.instanceOutputStart);
  }

  /** Restarts on the same data dir (a restart failure is a finding; a fresh dir is then used). */
  private async restart(reason: string): Promise<void> {
    const { dataDir, port } = this.broker;
    await this.broker.kill9().catch(() => {});
    try {
      await this.startOn(dataDir, port);
    } catch (err) {
      this.record(
        'restart-failure',
        `restart-failure after ${reason}: ${normalise(crashLine(String(err)))}`,
        `the broker does not restart on its data dir after ${reason}: ${crashLine(String(err))}`,
        this.writeSuspects(),
        tail(String(err), OUTPUT_TAIL_LINES),
      );
      await this.startFresh();
      return;
    }
    await this.checkStored(`after the restart that followed ${reason}`);
  }

  private async checkStored(when: string): Promise<void> {
    let after: Snapshot;
    try {
      after = await takeSnapshot(this.broker.port);
    } catch (err) {
      this.record(
        'data-change',
        `data-unreadable ${when}`,
        `the kept data cannot be read ${when}: ${(err as Error).message}`,
        [],
        tail(this.instanceOutput(), OUTPUT_TAIL_LINES),
      );
      return;
    }
    const changes = snapshotChanges(this.before, after);
    if (changes.length > 0) {
      this.record(
        'data-change',
        `data-change ${normalise(changes[0])}`,
        `stored data changed (${when}):\n  ${changes.join('\n  ')}`,
        this.writeSuspects(),
        '',
      );
      this.before = after;
    }
  }

  // ---- findings --------------------------------------------------------------------------

  private suspects(windowMs: number): SuspectCase[] {
    const now = Date.now();
    const recent = this.recent.filter((s) => now - s.at <= windowMs || !s.done);
    const chosen = [...recent.filter((s) => !s.done), ...recent.filter((s) => s.done).reverse()].slice(0, MAX_SUSPECTS);
    return chosen
      .sort((a, b) => a.c.index - b.c.index)
      .map((s) => ({
        index: s.c.index,
        seedApi: s.c.seedApi,
        mutations: s.c.mutations,
        bytes: s.c.bytes.length,
        hex: shortHex(s.c.bytes),
        sentMsBefore: now - s.at,
        inFlight: !s.done,
      }));
  }

  /** For stored-data and restart findings: accepted writes, those naming an internal topic (`__`) first. */
  private writeSuspects(): SuspectCase[] {
    const internal = this.acceptedWrites.filter((c) => c.bytes.includes('__'));
    const chosen = [...internal.slice(-MAX_SUSPECTS), ...this.acceptedWrites.slice(-MAX_SUSPECTS)]
      .filter((c, i, all) => all.indexOf(c) === i)
      .slice(0, MAX_SUSPECTS);
    return chosen
      .sort((a, b) => a.index - b.index)
      .map((c) => ({
        index: c.index,
        seedApi: c.seedApi,
        mutations: c.mutations,
        bytes: c.bytes.length,
        hex: shortHex(c.bytes),
        sentMsBefore: -1,
        inFlight: false,
      }));
  }

  private record(
    kind: FindingKind,
    signature: string,
    summary: string,
    suspects: SuspectCase[],
    brokerOutput: string,
  ): void {
    const existing = this.findings.get(signature);
    if (existing) {
      existing.occurrences++;
      this.o.log(`finding again (${existing.occurrences}×): ${signature}`);
      return;
    }
    this.findings.set(signature, {
      kind,
      signature,
      summary,
      runSeed: this.o.runSeed,
      suspects,
      brokerOutput,
      occurrences: 1,
    });
    this.o.log(`FINDING ${kind}: ${summary}`);
    if (this.findings.size >= this.o.maxFindings) this.stopped = true;
  }

  /** A crash, hang or memory finding: record it, restart the broker, let the workers go on. */
  private async incident(kind: 'crash' | 'hang' | 'memory', detail: string): Promise<void> {
    if (this.incidentRunning || this.stopped) return;
    this.incidentRunning = true;
    let resume!: () => void;
    this.paused = new Promise((r) => (resume = r));
    try {
      const window = kind === 'hang' ? this.o.hangAfterMs + 2000 : 3000;
      const suspects = this.suspects(window);
      if (kind !== 'crash') await this.broker.kill9().catch(() => {});
      await sleep(100);
      const output = this.instanceOutput();
      const line = kind === 'crash' ? crashLine(output) : detail;
      const apis = [...new Set(suspects.filter((s) => s.inFlight).map((s) => s.seedApi))].join('+') || 'none-in-flight';
      const signature = kind === 'crash' ? `crash ${normalise(line)}` : `${kind} ${apis}`;
      this.record(kind, signature, `${kind}: ${line}`, suspects, tail(output, OUTPUT_TAIL_LINES));
      await this.restart(`a ${kind}`);
    } finally {
      this.incidentRunning = false;
      this.paused = null;
      resume();
    }
  }

  // ---- watchers --------------------------------------------------------------------------

  private async monitor(): Promise<void> {
    while (!this.stopped) {
      await sleep(MONITOR_EVERY_MS);
      if (this.incidentRunning) continue;
      const rss = rssOf(this.broker.pid);
      if (rss === null) {
        await this.incident('crash', 'the broker process exited');
        continue;
      }
      this.peakRss = Math.max(this.peakRss, rss);
      if (rss > this.o.rssLimitBytes)
        await this.incident(
          'memory',
          `RSS ${(rss / 2 ** 20).toFixed(0)} MiB over the ${(this.o.rssLimitBytes / 2 ** 20).toFixed(0)} MiB bound`,
        );
    }
  }

  private async watchdog(): Promise<void> {
    let conn = null as RawConnection | null;
    while (!this.stopped) {
      await sleep(this.o.watchdogEveryMs);
      if (this.paused) {
        conn?.close();
        conn = null;
        await this.paused;
        continue;
      }
      const instance = this.instance;
      const t0 = Date.now();
      const probe = (async () => {
        if (!conn || !conn.open) conn = await RawConnection.open(this.broker.port);
        await conn.request(ApiVersions, 3, { clientSoftwareName: 'runnel-fuzz-watchdog', clientSoftwareVersion: '1' });
        await conn.request(Metadata, 12, {
          topics: [{ name: 'fz-a' }],
          allowAutoTopicCreation: false,
          includeTopicAuthorizedOperations: false,
        });
      })();
      const outcome = await Promise.race([
        probe.then(
          () => 'ok' as const,
          (e: Error) => e,
        ),
        sleep(this.o.hangAfterMs).then(() => 'timeout' as const),
      ]);
      if (this.stopped || this.instance !== instance || this.paused) continue;
      if (outcome === 'ok') {
        this.watchdogMax = Math.max(this.watchdogMax, Date.now() - t0);
      } else if (outcome === 'timeout') {
        conn?.close();
        conn = null;
        await this.incident(
          'hang',
          `the watchdog's ApiVersions+Metadata got no answer within ${this.o.hangAfterMs} ms`,
        );
      } else {
        // Connection refused or closed: the monitor sees a crash; otherwise it is one to note.
        conn?.close();
        conn = null;
        await sleep(MONITOR_EVERY_MS * 2);
        if (!this.paused && this.instance === instance && rssOf(this.broker.pid) !== null) {
          this.record(
            'hang',
            `watchdog-refused ${normalise(outcome.message)}`,
            `the watchdog's request failed on a live broker: ${outcome.message}`,
            this.suspects(3000),
            tail(this.instanceOutput(), OUTPUT_TAIL_LINES),
          );
        }
      }
    }
    conn?.close();
  }

  private async settle(): Promise<void> {
    const until = Date.now() + this.o.settleMs;
    while (Date.now() < until && !this.stopped) {
      await sleep(100);
      if (this.paused) await this.paused;
    }
  }

  // ---- workers ---------------------------------------------------------------------------

  private async worker(replay: number[] | null): Promise<void> {
    let conn: RawConnection | null = null;
    for (;;) {
      if (this.paused) {
        conn?.close();
        conn = null;
        await this.paused;
      }
      if (this.stopped) break;
      let index: number;
      if (replay) {
        if (replay.length === 0) break;
        index = replay.shift()!;
      } else {
        if (this.next >= this.o.requests) break;
        index = this.next++;
      }
      const c = generateCase(this.corpus, this.o.runSeed, index);
      const reason = this.o.exclude?.(c);
      if (reason) {
        this.skipped[reason] = (this.skipped[reason] ?? 0) + 1;
        continue;
      }
      if (!conn || !conn.open) conn = await this.connect();
      if (!conn) continue;
      const keep = await this.send(conn, c);
      if (!keep) {
        conn.close();
        conn = null;
      }
    }
    conn?.close();
  }

  private async connect(): Promise<RawConnection | null> {
    for (let attempt = 0; attempt < 100 && !this.stopped; attempt++) {
      if (this.paused) await this.paused;
      try {
        return await RawConnection.open(this.broker.port);
      } catch {
        await sleep(50);
      }
    }
    return null;
  }

  /** Sends one case; returns whether the connection can be used for the next one. */
  private async send(conn: RawConnection, c: FuzzCase): Promise<boolean> {
    const entry: Sent = { c, at: Date.now(), done: false };
    this.recent.push(entry);
    if (this.recent.length > RECENT_CASES) this.recent.shift();
    const frame = conn.nextFrame().then(
      (f) => ({ frame: f }),
      () => ({ closed: true as const }),
    );
    conn.write(c.bytes);
    this.sent++;
    const due = c.frame?.answerDue ?? false;
    const outcome = await Promise.race([
      frame,
      sleep(due ? this.o.answerWaitMs : NO_ANSWER_WAIT_MS).then(() => ({ timeout: true as const })),
    ]);
    entry.done = true;
    if ('frame' in outcome) {
      this.answered++;
      this.checkResponse(c, outcome.frame);
      // After anything but exactly one frame, what follows on this connection is not ours to read.
      return c.frame !== null;
    }
    if ('closed' in outcome) {
      this.closedByBroker++;
      return false;
    }
    if (due) {
      const key = c.frame?.api?.name ?? 'unknown';
      this.unanswered[key] = (this.unanswered[key] ?? 0) + 1;
    }
    return false;
  }

  private checkResponse(c: FuzzCase, frame: Buffer): void {
    const view = c.frame;
    if (!view?.request || !view.api || !view.answerDue) return;
    const problem = (() => {
      if (frame.length < 4) return `a ${frame.length}-byte response`;
      const correlationId = frame.readInt32BE(0);
      if (correlationId !== view.correlationId)
        return `correlation id ${correlationId} in the answer to ${view.correlationId}`;
      try {
        const decoded = decodeResponse(view.api, view.apiVersion, frame);
        if (WRITE_APIS.has(view.api.name) && anySuccess(decoded.body)) {
          this.acceptedWrites.push(c);
          if (this.acceptedWrites.length > ACCEPTED_WRITES_KEPT) this.acceptedWrites.shift();
        }
        return null;
      } catch (err) {
        return (err as Error).message;
      }
    })();
    if (problem) {
      const suspect: SuspectCase = {
        index: c.index,
        seedApi: c.seedApi,
        mutations: c.mutations,
        bytes: c.bytes.length,
        hex: shortHex(c.bytes),
        sentMsBefore: 0,
        inFlight: false,
      };
      this.record(
        'bad-response',
        `bad-response ${view.api.name} v${view.apiVersion}: ${normalise(problem)}`,
        `${view.api.name} v${view.apiVersion} answered with a response that does not decode: ${problem} (response ${shortHex(frame, 128)})`,
        [suspect],
        '',
      );
    }
  }

  // ---- end of run ------------------------------------------------------------------------

  /** Requests whose handler threw (the broker logs them as request_failed and closes the connection). */
  private recordFailedRequests(): void {
    for (const line of this.instanceOutput().split('\n')) {
      if (!line.includes('"cause":"request_failed"') || line.includes('"suppressed"')) continue;
      const message = /"message":"((?:[^"\\]|\\.)*)"/.exec(line)?.[1] ?? /"msg":"([^"]*)"/.exec(line)?.[1] ?? line;
      this.record(
        'request-failed',
        `request-failed ${normalise(message)}`,
        `a request handler threw (connection closed, no Kafka error code): ${message}`,
        [],
        line.slice(0, 3000),
      );
    }
  }

  private async finalChecks(): Promise<void> {
    this.recordFailedRequests();
    await this.checkStored('at the end of the run');
    const code = await this.broker.stop();
    if (code !== 0)
      this.record(
        'unclean-shutdown',
        `unclean-shutdown ${code}`,
        `SIGTERM ended the broker with exit code ${code}`,
        [],
        tail(this.instanceOutput(), OUTPUT_TAIL_LINES),
      );
    const { dataDir, port } = this.broker;
    try {
      await this.startOn(dataDir, port);
    } catch (err) {
      this.record(
        'restart-failure',
        `restart-failure at the end: ${normalise(crashLine(String(err)))}`,
        `the broker does not restart on the data dir the run left: ${crashLine(String(err))}`,
        this.writeSuspects(),
        tail(String(err), OUTPUT_TAIL_LINES),
      );
      return;
    }
    // Loading (the group coordinator reads __consumer_offsets) may finish after "listening".
    await sleep(1500);
    if (rssOf(this.broker.pid) === null) {
      this.record(
        'restart-failure',
        `restart-crash ${normalise(crashLine(this.instanceOutput()))}`,
        `the broker exits soon after restarting on the run's data dir: ${crashLine(this.instanceOutput())}`,
        this.writeSuspects(),
        tail(this.instanceOutput(), OUTPUT_TAIL_LINES),
      );
      return;
    }
    await this.checkStored('after a clean restart at the end of the run');
  }

  private result(elapsedMs: number, fuzzMs: number): CampaignResult {
    return {
      runSeed: this.o.runSeed,
      sent: this.sent,
      skipped: this.skipped,
      elapsedMs,
      requestsPerSecond: this.sent / (fuzzMs / 1000),
      answered: this.answered,
      closedByBroker: this.closedByBroker,
      unanswered: this.unanswered,
      peakRssBytes: this.peakRss,
      watchdogMaxLatencyMs: this.watchdogMax,
      brokerStarts: this.brokerStarts,
      findings: [...this.findings.values()],
    };
  }
}

export function runCampaign(options: CampaignOptions): Promise<CampaignResult> {
  return new Campaign(options).run();
}
