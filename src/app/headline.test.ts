import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { headlineFromMetrics } from './headline';

describe('headline from metrics.json', () => {
  it('reads the shipped file', () => {
    const json = JSON.parse(readFileSync('public/models/metrics.json', 'utf8')) as {
      models: Record<string, { metrics: { AP: number }; params: { decoder: number } }>;
    };
    const h = headlineFromMetrics(json);
    expect(h).toMatchObject({
      vanilla: { AP: json.models.vanilla!.metrics.AP, decoderParams: json.models.vanilla!.params.decoder },
      lors: { AP: json.models.lors!.metrics.AP, decoderParams: json.models.lors!.params.decoder },
    });
    expect(h!.images).toBeGreaterThan(0);
  });
  it('is null when a figure is missing or not a number (no made-up headline)', () => {
    const m = (AP: unknown) => ({
      models: {
        vanilla: { params: { decoder: 10 }, metrics: { AP: 20, images: 5 } },
        lors: { params: { decoder: 3 }, metrics: { AP } },
      },
    });
    expect(headlineFromMetrics(m(19))).toEqual({
      images: 5,
      vanilla: { AP: 20, decoderParams: 10 },
      lors: { AP: 19, decoderParams: 3 },
    });
    expect(headlineFromMetrics(m('19'))).toBeNull();
    expect(headlineFromMetrics(m(undefined))).toBeNull();
    expect(headlineFromMetrics(null)).toBeNull();
    expect(headlineFromMetrics({})).toBeNull();
  });
});
