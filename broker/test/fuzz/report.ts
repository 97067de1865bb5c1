// The fuzz run's result in words: throughput, what was skipped, and each finding with the
// seed, the cases sent just before it (hex) and the command that replays them.

import type { CampaignResult, Finding } from './campaign.js';

export function formatFinding(f: Finding): string {
  const lines = [
    `[${f.kind}] ${f.summary}${f.occurrences > 1 ? ` (seen ${f.occurrences}×)` : ''}`,
    `  seed ${f.runSeed}`,
  ];
  if (f.suspects.length > 0) {
    lines.push(`  replay: npm run fuzz -- --seed ${f.runSeed} --replay ${f.suspects.map((s) => s.index).join(',')}`);
    const writes = f.suspects.every((s) => s.sentMsBefore < 0);
    lines.push(
      writes
        ? '  writes the broker accepted, those naming internal topics first (index, seed API, mutations, bytes, hex):'
        : '  cases sent just before (index, in flight?, seed API, mutations, bytes, hex):',
    );
    for (const s of f.suspects) {
      const when = s.sentMsBefore < 0 ? '' : `, sent ${s.sentMsBefore} ms before`;
      lines.push(
        `    #${s.index}${s.inFlight ? ' IN FLIGHT' : ''} ${s.seedApi} [${s.mutations.join(', ') || 'unmutated'}] ${s.bytes} B${when}`,
      );
      lines.push(`      ${s.hex}`);
    }
  }
  if (f.brokerOutput.trim()) {
    lines.push('  broker output (tail):');
    for (const l of f.brokerOutput.trim().split('\n').slice(-15))
      lines.push(`    ${l.slice(0, /"level":(50|60)/.test(l) ? 3000 : 400)}`);
  }
  return lines.join('\n');
}

export function formatResult(r: CampaignResult): string {
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
  const lines = [
    `seed ${r.runSeed}: ${r.sent} requests in ${(r.elapsedMs / 1000).toFixed(1)} s, ${r.requestsPerSecond.toFixed(0)} requests/s while fuzzing`,
    `  answered ${r.answered}, connection closed by the broker ${r.closedByBroker}, broker started ${r.brokerStarts}×, peak RSS ${mib(r.peakRssBytes)}, slowest watchdog probe ${r.watchdogMaxLatencyMs} ms`,
  ];
  const unanswered = Object.entries(r.unanswered).sort((a, b) => b[1] - a[1]);
  if (unanswered.length)
    lines.push(
      `  due an answer but none within the wait (not findings): ${unanswered.map(([k, v]) => `${k} ${v}`).join(', ')}`,
    );
  const skipped = Object.entries(r.skipped);
  if (skipped.length) lines.push(`  skipped as known issues: ${skipped.map(([k, v]) => `${k} ${v}`).join(', ')}`);
  lines.push(r.findings.length === 0 ? '  no findings' : `  ${r.findings.length} finding(s):`);
  for (const f of r.findings) lines.push(formatFinding(f).replace(/^/gm, '  '));
  return lines.join('\n');
}
