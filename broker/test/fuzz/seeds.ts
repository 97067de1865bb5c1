// The fuzzer's seeds: one run seed derives one independent stream (broker/random.ts) per
// generated request, so request i of seed S is the same bytes whatever ran before it.

/** The seed of request `index` in the run seeded with `runSeed` (a splitmix32-style mix). */
export function requestSeed(runSeed: number, index: number): number {
  let z = (Math.imul(runSeed >>> 0, 0x9e3779b9) + Math.imul(index + 1, 0x85ebca6b)) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x21f0aaad) >>> 0;
  z = Math.imul(z ^ (z >>> 15), 0x735a2d97) >>> 0;
  return (z ^ (z >>> 15)) >>> 0;
}
