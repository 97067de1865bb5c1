import { describe, expect, it } from 'vitest';
import { quantityBytes } from './quantity.js';

describe('quantityBytes', () => {
  it('reads binary and decimal suffixes, plain numbers and exponents', () => {
    expect(quantityBytes('10Gi')).toBe(10 * 2 ** 30);
    expect(quantityBytes('1.5Ki')).toBe(1536);
    expect(quantityBytes('1.5G')).toBe(1.5e9);
    expect(quantityBytes('2048Mi')).toBe(quantityBytes('2Gi'));
    expect(quantityBytes('1073741824')).toBe(quantityBytes('1Gi'));
    expect(quantityBytes(42)).toBe(42);
    expect(quantityBytes('1e3')).toBe(1000);
  });

  it('says what it could not read', () => {
    expect(() => quantityBytes('ten gigs')).toThrow('ten gigs is not a quantity such as 10Gi');
  });
});
