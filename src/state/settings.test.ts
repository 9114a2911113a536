import { describe, expect, it } from 'vitest';
import { createSettingsStore, DEFAULT_MAX_RESULTS, MAX_RESULTS_LIMIT } from './settings';

describe('settings: display of the boxes', () => {
  it('top-k defaults to a legible count and is kept in 1..MAX_RESULTS_LIMIT; NMS on by default', () => {
    const s = createSettingsStore();
    expect(s.getState().maxResults).toBe(DEFAULT_MAX_RESULTS);
    expect(s.getState().displayNms).toBe(true);
    s.getState().setMaxResults(0);
    expect(s.getState().maxResults).toBe(1);
    s.getState().setMaxResults(1e9);
    expect(s.getState().maxResults).toBe(MAX_RESULTS_LIMIT);
    s.getState().setMaxResults(7.4);
    expect(s.getState().maxResults).toBe(7);
    s.getState().setDisplayNms(false);
    expect(s.getState().displayNms).toBe(false);
  });
});
