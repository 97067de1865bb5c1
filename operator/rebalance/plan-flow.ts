// Min-cost max-flow for the reassignment planner. Every choice the planner makes (how many replicas
// of a topic each broker holds, which brokers hold a partition, which replica leads) is a flow
// whose costs rank balance first and kept data second, so one exact solver replaces a pile of
// greedy heuristics and their repair passes.
//
// Primal-dual: Dijkstra over reduced costs finds the cheapest path length, then Dinic pushes a
// blocking flow along every path of that length at once. The planner's paths cost only a handful of
// distinct amounts, so there are few phases even when thousands of units flow.

/** Larger than any capacity the planner uses, yet exact in a double. */
export const UNBOUNDED_CAPACITY = 2 ** 40;

export class MinCostFlow {
  private readonly adjacency: number[][] = [];
  private readonly head: number[] = [];
  private readonly capacity: number[] = [];
  private readonly initialCapacity: number[] = [];
  private readonly cost: number[] = [];

  addNode(): number {
    this.adjacency.push([]);
    return this.adjacency.length - 1;
  }

  /** Returns the edge's id; its reverse residual edge is id ^ 1. */
  addEdge(from: number, to: number, capacity: number, cost: number): number {
    const id = this.head.length;
    this.head.push(to, from);
    this.capacity.push(capacity, 0);
    this.initialCapacity.push(capacity, 0);
    this.cost.push(cost, -cost);
    this.adjacency[from].push(id);
    this.adjacency[to].push(id + 1);
    return id;
  }

  /**
   * Adds parallel edges whose unit costs rise with the flow, so the flow pays `unitCost(k)` for its
   * k-th unit (k = 1..capacity). `unitCost` must be non-decreasing and constant between consecutive
   * `breakpoints`. Returns the edge ids, whose flows sum to the flow from `from` to `to`.
   */
  addConvexEdges(
    from: number,
    to: number,
    capacity: number,
    breakpoints: readonly number[],
    unitCost: (unit: number) => number,
  ): number[] {
    const ends = [...new Set([...breakpoints.filter((b) => b > 0 && b < capacity), capacity])].sort((a, b) => a - b);
    const ids: number[] = [];
    let start = 0;
    for (const end of ends) {
      if (end > start) ids.push(this.addEdge(from, to, end - start, unitCost(end)));
      start = end;
    }
    return ids;
  }

  flowOn(edge: number): number {
    return this.initialCapacity[edge] - this.capacity[edge];
  }

  /** Pushes as much flow as fits from source to sink at the least total cost; returns the flow. */
  run(source: number, sink: number): number {
    const potential = this.initialPotentials(source);
    let total = 0;
    for (;;) {
      const distance = this.shortestDistances(source, potential);
      if (distance[sink] === Infinity) return total;
      for (let v = 0; v < potential.length; v++) if (distance[v] !== Infinity) potential[v] += distance[v];
      total += this.blockingFlows(source, sink, potential);
    }
  }

  private isAdmissible(edge: number, from: number, potential: readonly number[]): boolean {
    return this.capacity[edge] > 0 && potential[from] + this.cost[edge] - potential[this.head[edge]] === 0;
  }

  /** Bellman-Ford (queue-based): the initial graph may have negative costs but no negative cycles. */
  private initialPotentials(source: number): number[] {
    const n = this.adjacency.length;
    const distance = new Array<number>(n).fill(Infinity);
    const queued = new Array<boolean>(n).fill(false);
    distance[source] = 0;
    const queue = [source];
    queued[source] = true;
    for (let i = 0; i < queue.length; i++) {
      const v = queue[i];
      queued[v] = false;
      for (const e of this.adjacency[v]) {
        if (this.capacity[e] <= 0) continue;
        const w = this.head[e];
        if (distance[v] + this.cost[e] < distance[w]) {
          distance[w] = distance[v] + this.cost[e];
          if (!queued[w]) {
            queued[w] = true;
            queue.push(w);
          }
        }
      }
    }
    return distance.map((d) => (d === Infinity ? 0 : d));
  }

  private shortestDistances(source: number, potential: readonly number[]): number[] {
    const distance = new Array<number>(this.adjacency.length).fill(Infinity);
    distance[source] = 0;
    const heap = new MinHeap();
    heap.push(0, source);
    while (heap.size > 0) {
      const [d, v] = heap.pop();
      if (d > distance[v]) continue;
      for (const e of this.adjacency[v]) {
        if (this.capacity[e] <= 0) continue;
        const w = this.head[e];
        const next = d + this.cost[e] + potential[v] - potential[w];
        if (next < distance[w]) {
          distance[w] = next;
          heap.push(next, w);
        }
      }
    }
    return distance;
  }

  /** Dinic restricted to zero-reduced-cost edges: every path it augments is a cheapest one. */
  private blockingFlows(source: number, sink: number, potential: readonly number[]): number {
    const n = this.adjacency.length;
    let total = 0;
    for (;;) {
      const level = new Array<number>(n).fill(-1);
      level[source] = 0;
      const queue = [source];
      for (let i = 0; i < queue.length; i++) {
        const v = queue[i];
        for (const e of this.adjacency[v]) {
          const w = this.head[e];
          if (level[w] < 0 && this.isAdmissible(e, v, potential)) {
            level[w] = level[v] + 1;
            queue.push(w);
          }
        }
      }
      if (level[sink] < 0) return total;
      const next = new Array<number>(n).fill(0);
      for (;;) {
        const pushed = this.augmentOnePath(source, sink, level, next, potential);
        if (pushed === 0) break;
        total += pushed;
      }
    }
  }

  /** Iterative depth-first search, so long alternating paths cannot overflow the call stack. */
  private augmentOnePath(source: number, sink: number, level: number[], next: number[], potential: readonly number[]) {
    const path: number[] = [];
    let v = source;
    for (;;) {
      if (v === sink) {
        const pushed = Math.min(...path.map((e) => this.capacity[e]));
        for (const e of path) {
          this.capacity[e] -= pushed;
          this.capacity[e ^ 1] += pushed;
        }
        return pushed;
      }
      const edges = this.adjacency[v];
      while (next[v] < edges.length) {
        const e = edges[next[v]];
        if (level[this.head[e]] === level[v] + 1 && this.isAdmissible(e, v, potential)) break;
        next[v]++;
      }
      if (next[v] < edges.length) {
        const e = edges[next[v]];
        path.push(e);
        v = this.head[e];
        continue;
      }
      level[v] = -1;
      const back = path.pop();
      if (back === undefined) return 0;
      v = this.head[back ^ 1];
      next[v]++;
    }
  }
}

class MinHeap {
  private readonly keys: number[] = [];
  private readonly values: number[] = [];

  get size(): number {
    return this.keys.length;
  }

  push(key: number, value: number): void {
    let i = this.keys.length;
    this.keys.push(key);
    this.values.push(value);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.keys[parent] <= key) break;
      this.move(parent, i);
      i = parent;
    }
    this.keys[i] = key;
    this.values[i] = value;
  }

  pop(): [number, number] {
    const top: [number, number] = [this.keys[0], this.values[0]];
    const lastKey = this.keys.pop()!;
    const lastValue = this.values.pop()!;
    const n = this.keys.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        let child = 2 * i + 1;
        if (child >= n) break;
        if (child + 1 < n && this.keys[child + 1] < this.keys[child]) child++;
        if (this.keys[child] >= lastKey) break;
        this.move(child, i);
        i = child;
      }
      this.keys[i] = lastKey;
      this.values[i] = lastValue;
    }
    return top;
  }

  private move(from: number, to: number): void {
    this.keys[to] = this.keys[from];
    this.values[to] = this.values[from];
  }
}
