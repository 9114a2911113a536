import { describe, expect, it } from 'vitest';
import { makeConfig } from './config';
import { decoderFlops, levelSizesOf } from './flops';

describe('decoderFlops', () => {
  it('matches a hand count for the tiny preset', () => {
    // tiny: d_q = d_feat = 32, heads 4, ffn 64, G = 2 (C = 16), P_in = 4, P_out = 8, 6 stages, L = 10, 80 classes.
    const d = makeConfig('tiny', 'vanilla').decoder;
    const f = decoderFlops(d, [
      [2, 2],
      [1, 1],
      [1, 1],
    ]);
    // attention: in-proj 2·10·32·96 = 61,440; Q·Kᵀ 2·10·32·10 = 6,400; softmax·V 6,400; out-proj 2·10·32·32 = 20,480
    expect(f.perStage.attention).toBe(61_440 + 6_400 + 6_400 + 20_480);
    // offsets: 32 → G·P_in·3 = 24: 2·10·32·24
    expect(f.perStage.samplingOffsets).toBe(15_360);
    // generator: 32 → G·(C² + P_in·P_out) = 2·(256 + 32) = 576: 2·10·32·576
    expect(f.perStage.generator).toBe(368_640);
    // ACM: 10 queries · 2 groups · 2·P_in·C·C = 20 · 2·4·16·16
    expect(f.perStage.channelMixing).toBe(40_960);
    // ASM: 20 · 2·P_out·P_in·C = 20 · 2·8·4·16
    expect(f.perStage.spatialMixing).toBe(20_480);
    // L_output: G·P_out·C = 256 → 32: 2·10·256·32
    expect(f.perStage.outputProjection).toBe(163_840);
    // FFN: 2·10·32·64 twice
    expect(f.perStage.ffn).toBe(81_920);
    // heads: two fc 2·10·32·32, cls out 2·10·32·80, reg out 2·10·32·4
    expect(f.perStage.heads).toBe(40_960 + 51_200 + 2_560);
    const stage = 94_720 + 15_360 + 368_640 + 40_960 + 20_480 + 163_840 + 81_920 + 94_720;
    expect(f.stage).toBe(stage);
    // neck: 1×1 conv 128 → 32 on 4 + 1 + 1 cells
    expect(f.neck).toBe(2 * 6 * 128 * 32);
    expect(f.total).toBe(6 * stage + 2 * 6 * 128 * 32);
  });

  it('gives about 4.2 GFLOP for the web preset at 416 px, the same for LORS as the app runs it', () => {
    const d = makeConfig('web', 'vanilla').decoder;
    expect(levelSizesOf(d, 416)).toEqual([
      [52, 52],
      [26, 26],
      [13, 13],
    ]);
    const f = decoderFlops(d, levelSizesOf(d, 416));
    expect(f.total / 1e9).toBeCloseTo(4.24, 2);
    expect(decoderFlops(makeConfig('web', 'lors').decoder, levelSizesOf(d, 416)).total).toBe(f.total);
  });
});
