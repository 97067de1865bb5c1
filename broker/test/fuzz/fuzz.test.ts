// The structure-aware fuzzer, bounded to fit in `npm test`: a few thousand mutated requests
// from two fixed seeds against a broker process, which must stay up, answer its watchdog,
// stay under the memory bound, keep the data stored before the run, and restart on it.
// `npm run fuzz` runs the same campaign unbounded and with nothing excluded.

import { describe, expect, it } from 'vitest';
import { encodeRequest } from '../raw-client.js';
import { runCampaign } from './campaign.js';
import { buildCorpus, SERVED_APIS, type Corpus } from './corpus.js';
import { generateCase, type FuzzCase } from './mutate.js';
import { formatResult } from './report.js';
import { encodeFrame } from './schema-walk.js';

interface KnownIssue {
  name: string;
  /** Where the fix is tracked. */
  issue: string;
  matches(c: FuzzCase): boolean;
}

/**
 * Classes of input that hit a broker bug still being fixed, left out of the in-suite run only
 * (`npm run fuzz` sends everything) so the suite stays useful meanwhile. Add an entry with the
 * issue it waits for; delete it when the fix lands, and the run covers that class again.
 *
 * Empty: the problems known when the fuzzer was written (Fetch with no partitions and
 * minBytes > 0 busy-looping; produce to __consumer_offsets bricking restart; zstd/lz4
 * decompression bombs; batches whose record count lies; JoinGroup then leave crashing a fresh
 * broker) were fixed by the hardening commits 3d7e48a and 26d3a69, and their regression tests
 * are in broker/test/hardening.test.ts. The example entry below shows the shape.
 */
const KNOWN_ISSUES_EXCLUDED_IN_SUITE: KnownIssue[] = [
  // {
  //   name: 'fetch-without-partitions',
  //   issue: 'hardening: a Fetch with no partitions and minBytes > 0 busy-loops the event loop',
  //   matches: (c) =>
  //     (c.frame?.api?.name === 'Fetch' || c.seedApi === 'Fetch') &&
  //     (c.frame?.request?.body as { minBytes?: number } | undefined)?.minBytes !== 0,
  // },
];

function excluded(c: FuzzCase): string | undefined {
  return KNOWN_ISSUES_EXCLUDED_IN_SUITE.find((k) => k.matches(c))?.name;
}

const SEEDS = [20240501, 7];
const REQUESTS_PER_SEED = 2000;

describe('the fuzzer itself', () => {
  let corpus: Corpus;

  it('writes every seed exactly as the broker codec does, before any mutation', async () => {
    corpus = await buildCorpus({});
    expect(corpus.seeds.length).toBeGreaterThan(50);
    for (const s of corpus.seeds) {
      const ours = encodeFrame(s.api, s.version, s.body, {
        apiKey: s.api.key,
        apiVersion: s.version,
        correlationId: 9,
        clientId: s.clientId,
        headerTags: s.api.flexibleFrom !== undefined && s.version >= s.api.flexibleFrom,
      });
      const theirs = encodeRequest(s.api, s.version, s.body as never, { correlationId: 9, clientId: s.clientId });
      expect(ours.toString('hex'), `${s.source} ${s.api.name} v${s.version}`).toBe(theirs.toString('hex'));
    }
  });

  it('has seeds for every API the broker serves', () => {
    const seeded = new Set(corpus.seeds.map((s) => s.api.name));
    expect(SERVED_APIS.map((a) => a.name).filter((n) => !seeded.has(n))).toEqual([]);
  });

  it('generates the same bytes for the same seed and index', () => {
    for (const index of [0, 1, 999]) {
      expect(generateCase(corpus, 42, index).bytes.equals(generateCase(corpus, 42, index).bytes)).toBe(true);
    }
  });
});

describe('a broker under a bounded fuzz run', () => {
  for (const seed of SEEDS) {
    it(`seed ${seed}: stays up, answers its watchdog, stays under the memory bound, and keeps and restarts on its data`, async () => {
      const result = await runCampaign({
        runSeed: seed,
        requests: REQUESTS_PER_SEED,
        connections: 4,
        settleMs: 1500,
        exclude: excluded,
      });
      expect(result.findings, formatResult(result)).toEqual([]);
      expect(result.sent).toBeGreaterThan(REQUESTS_PER_SEED * 0.9);
    });
  }
});
