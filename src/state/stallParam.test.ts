import { describe, expect, it } from 'vitest';
import { stallMsFromSearch } from './stallParam';

describe('stallMsFromSearch', () => {
  it('reads seconds into milliseconds', () => {
    expect(stallMsFromSearch('?stallSeconds=3')).toBe(3000);
    expect(stallMsFromSearch('?backend=wasm&stallSeconds=0.5')).toBe(500);
  });
  it('ignores absent, empty and out-of-range values', () => {
    expect(stallMsFromSearch('')).toBeUndefined();
    expect(stallMsFromSearch('?stallSeconds=')).toBeUndefined();
    expect(stallMsFromSearch('?stallSeconds=0')).toBeUndefined();
    expect(stallMsFromSearch('?stallSeconds=abc')).toBeUndefined();
    expect(stallMsFromSearch('?stallSeconds=601')).toBeUndefined();
  });
});
