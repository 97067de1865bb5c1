// A fake network between simulated nodes: every message may be lost, delayed (and so reordered)
// or duplicated, and links can be cut in one direction or both. A response goes back to the
// process incarnation that sent the request: a node that restarted has new connections, and
// answers meant for its previous life never reach it (as with TCP).

import type { RaftMessage } from '../messages.js';
import type { SeededRandom } from '../../random.js';

export interface Envelope {
  from: number;
  /** The incarnation of the sender. */
  fromLife: number;
  to: number;
  correlationId: number;
  message: RaftMessage;
  /** For a response: the incarnation of the node that sent the request. */
  toLife: number | null;
}

export interface NetworkFaults {
  lossRate: number;
  duplicateRate: number;
  minDelayMs: number;
  maxDelayMs: number;
}

export const CALM_NETWORK: NetworkFaults = { lossRate: 0, duplicateRate: 0, minDelayMs: 1, maxDelayMs: 5 };

export class FakeNetwork {
  /** Cut links, as "from>to". */
  private cut = new Set<string>();

  constructor(
    private readonly random: SeededRandom,
    public faults: NetworkFaults,
  ) {}

  /** The delays at which copies of a message arrive: none if lost or cut, two if duplicated. */
  deliveries(from: number, to: number): number[] {
    if (!this.canReach(from, to) || this.random.chance(this.faults.lossRate)) return [];
    const delay = () => this.random.between(this.faults.minDelayMs, this.faults.maxDelayMs);
    return this.random.chance(this.faults.duplicateRate) ? [delay(), delay()] : [delay()];
  }

  canReach(from: number, to: number): boolean {
    return !this.cut.has(`${from}>${to}`);
  }

  cutLink(from: number, to: number): void {
    this.cut.add(`${from}>${to}`);
  }

  isolate(node: number, all: readonly number[]): void {
    for (const other of all) {
      if (other === node) continue;
      this.cutLink(node, other);
      this.cutLink(other, node);
    }
  }

  /** Splits the nodes in two groups that cannot talk to each other. */
  split(groupA: readonly number[], groupB: readonly number[]): void {
    for (const a of groupA) {
      for (const b of groupB) {
        this.cutLink(a, b);
        this.cutLink(b, a);
      }
    }
  }

  heal(): void {
    this.cut.clear();
  }

  describeCuts(): string {
    return [...this.cut].sort().join(' ') || 'none';
  }
}
