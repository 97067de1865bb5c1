import { describe, expect, it } from 'vitest';
import { withReadmeTable, type Row, type RunInfo } from './report.js';
import type { Scenario } from './scenarios.js';

const scenarios = [
  { id: 'produce', title: 'produce' },
  { id: 'zstd', title: 'zstd' },
] as Scenario[];
const rows: Row[] = [
  {
    client: 'kafkajs',
    name: 'kafkajs',
    version: '2.2.4',
    cells: new Map([
      ['produce', { status: 'pass' }],
      ['zstd', { status: 'n/a', reason: 'needs a codec plugin' }],
    ]),
    notes: [],
    seconds: 1,
  },
];
const info: RunInfo = {
  date: '2026-11-22',
  target: 'Runnel',
  commit: 'abc123',
  node: '20',
  platform: 'Linux',
  totalSeconds: 1,
  command: 'npm run compat',
};

describe('the README copy of the compatibility table', () => {
  it('replaces only what lies between its markers', () => {
    const readme =
      'intro\n<!-- compat-matrix: written by npm run compat -->\nold table\n<!-- /compat-matrix -->\noutro\n';
    const out = withReadmeTable(readme, rows, scenarios, info);
    expect(
      out.startsWith('intro\n<!-- compat-matrix: written by npm run compat -->\n| client | version | produce | zstd |'),
    ).toBe(true);
    expect(out).toContain('| kafkajs | 2.2.4 | pass | n/a |');
    expect(out).toContain('commit abc123');
    expect(out).not.toContain('old table');
    expect(out.endsWith('<!-- /compat-matrix -->\noutro\n')).toBe(true);
    expect(withReadmeTable(out, rows, scenarios, info)).toBe(out);
  });

  it('says what is missing when the README has no block for it', () => {
    expect(() => withReadmeTable('no markers', rows, scenarios, info)).toThrow('README.md has no <!-- compat-matrix');
  });
});
