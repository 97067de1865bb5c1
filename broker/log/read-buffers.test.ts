import { describe, expect, it } from 'vitest';
import { ReadBufferPool } from './read-buffers.js';

describe('ReadBufferPool', () => {
  it('lends a released buffer again, and only after release', () => {
    const pool = new ReadBufferPool(1024, 2);
    const first = pool.loan();
    const a = first.alloc(100);
    expect(a.length).toBe(100);
    const second = pool.loan();
    const b = second.alloc(1024);
    expect(b.buffer).not.toBe(a.buffer);
    first.release();
    expect(pool.freeCount).toBe(1);
    expect(pool.loan().alloc(10).buffer).toBe(a.buffer);
    expect(pool.freeCount).toBe(0);
  });

  it('allocates outside the pool when every buffer is lent or the read does not fit one', () => {
    const pool = new ReadBufferPool(1024, 1);
    const loan = pool.loan();
    const pooled = loan.alloc(1024);
    const overflow = loan.alloc(10);
    const large = pool.loan().alloc(1025);
    expect(overflow.buffer).not.toBe(pooled.buffer);
    expect(large.length).toBe(1025);
    loan.release();
    // Only the pooled buffer comes back; the others are left to the garbage collector.
    expect(pool.freeCount).toBe(1);
  });

  it('returns every buffer of a loan exactly once', () => {
    const pool = new ReadBufferPool(64, 4);
    const loan = pool.loan();
    const buffers = new Set([loan.alloc(64), loan.alloc(1), loan.alloc(32)].map((b) => b.buffer));
    expect(buffers.size).toBe(3);
    loan.release();
    expect(pool.freeCount).toBe(3);
    expect(() => loan.release()).toThrow(/released twice/);
    expect(() => loan.alloc(1)).toThrow(/after release/);
    expect(pool.freeCount).toBe(3);
  });
});
