import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeConfig, type ModelConfig } from '../config';
import { hostPoints, samplePoints, sampleFeatures, samplingMaps } from './sampling';
import { wasmKernels } from './wasm/kernels';
import { jsSample, maxErr, randomSamplingInputs, rng, toJsMap, uniformArray } from '../../testing/reference';

beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
});

/** A hand-sized config: G groups of C channels, P points, given strides. */
function smallCfg(strides: number[], G: number, C: number, P: number): ModelConfig {
  const base = makeConfig('tiny', 'vanilla');
  return { ...base, decoder: { ...base.decoder, strides, samplingGroups: G, dFeat: G * C, pointsIn: P } };
}

describe('sampleFeatures', () => {
  it('hand values on a 2×3 map: centres, half-pixel alignment, borders, corners, outside (zero padding)', async () => {
    const cfg = smallCfg([8], 1, 1, 8);
    // level (stride 8): H = 2, W = 3, one channel: [[1, 2, 3], [4, 5, 6]]
    const level = tf.tensor4d([1, 2, 3, 4, 5, 6], [1, 2, 3, 1]);
    // Box of w = h = 8 at (0, 0): z = 3, r = 0 → sx = 8·ox, sy = 8·oy. sz = 3 + oz (one level: weight 1).
    const xyzr = tf.tensor3d([[[0, 0, 3, 0]]]);
    const pts: [number, number, number][] = [
      [4, 4, 1], // centre of pixel (0, 0): u = v = 0
      [12, 12, 5], // centre of pixel (1, 1)
      [8, 8, 3], // between 4 pixels: (1 + 2 + 4 + 5)/4
      [0, 0, 0.25], // image corner: u = v = −0.5 → only (0, 0) inside with weight 1/4
      [24, 4, 1.5], // right border, u = 2.5: pixel (2, 0) with weight 1/2
      [24, 16, 6 / 4], // bottom-right corner: (2, 1) with 1/4
      [-100, 4, 0], // far outside
      [6, 14, 0], // u = 0.25, v = 1.25: rows 1 (w .75) and 2 (outside): .75·(.75·4 + .25·5)
    ];
    pts[7]![2] = 0.75 * (0.75 * 4 + 0.25 * 5);
    const off = tf.tensor3d(
      pts.flatMap(([sx, sy]) => [sx / 8, sy / 8, 0]),
      [1, 1, 24],
    );
    const xs = sampleFeatures([level], xyzr, off, cfg);
    expect(xs.shape).toEqual([1, 1, 1, 8, 1]);
    const d = await xs.data();
    pts.forEach(([, , e], i) => expect(d[i]).toBeCloseTo(e, 5));
    tf.dispose([level, xyzr, off, xs]);
  });

  it('weights levels by softmax(−(z − log2 stride)²/2) and takes group g from channels [gC, (g+1)C)', async () => {
    const cfg = smallCfg([8, 16], 2, 1, 1);
    // level 0 (stride 8): 2×2 map, channels (group0, group1) = (10, 20) everywhere; level 1 (stride 16): 1×1, (1, 2)
    const l0 = tf.tensor4d([10, 20, 10, 20, 10, 20, 10, 20], [1, 2, 2, 2]);
    const l1 = tf.tensor4d([1, 2], [1, 1, 1, 2]);
    // box at the centre of level 0's pixel (0,0) = (4, 4), z = 3, r = 0, offsets 0 except oz.
    const xyzr = tf.tensor3d([[[4, 4, 3, 0]]]);
    const off = tf.tensor3d([[[0, 0, 0, 0, 0, 0.5]]]); // group 0: sz = 3; group 1: sz = 3.5
    const xs = sampleFeatures([l0, l1], xyzr, off, cfg);
    const d = await xs.data();
    // group 0, sz = 3: logits (0, −0.5). level 1 at (4, 4): u = 4/16 − .5 = −.25 → (0,0) weight .75·.75
    const w0 = 1 / (1 + Math.exp(-0.5));
    expect(d[0]).toBeCloseTo(w0 * 10 + (1 - w0) * 0.5625 * 1, 5);
    // group 1, sz = 3.5: logits (−0.125, −0.125) → 1/2 each
    expect(d[1]).toBeCloseTo(0.5 * 20 + 0.5 * 0.5625 * 2, 5);
    tf.dispose([l0, l1, xyzr, off, xs]);
  });

  it('matches the scalar reference for random points (inside, on borders, outside), B = 2, tiny config', async () => {
    const cfg = makeConfig('tiny', 'vanilla');
    const d = cfg.decoder;
    const G = d.samplingGroups,
      P = d.pointsIn,
      C = d.dFeat / G;
    const rand = rng(3);
    const B = 2,
      L = 5;
    // padded 72 × 40: levels 5×9, 3×5, 2×3
    const levels = d.strides.map((s) => {
      const H = Math.ceil(40 / s),
        W = Math.ceil(72 / s);
      return tf.tensor4d(uniformArray(B * H * W * d.dFeat, -1, 1, rand), [B, H, W, d.dFeat]);
    });
    const xyzrArr: number[] = [];
    for (let i = 0; i < B * L; i++) xyzrArr.push(rand() * 72, rand() * 40, 2 + rand() * 4, rand() * 2 - 1);
    const offArr = uniformArray(B * L * G * P * 3, -1.5, 1.5, rand);
    const xyzr = tf.tensor3d(xyzrArr, [B, L, 4]);
    const off = tf.tensor3d(offArr, [B, L, G * P * 3]);
    const before = tf.memory().numTensors;
    const xs = sampleFeatures(levels, xyzr, off, cfg);
    expect(tf.memory().numTensors).toBe(before + 1);
    expect(xs.shape).toEqual([B, L, G, P, C]);
    const got = await xs.data();
    const maps = await Promise.all(levels.map(toJsMap));
    const ref: number[] = [];
    for (let b = 0; b < B; b++) {
      for (let l = 0; l < L; l++) {
        const q = b * L + l;
        const s = jsSample(
          maps,
          d.strides,
          b,
          xyzrArr.slice(q * 4, q * 4 + 4),
          Array.from(offArr.subarray(q * G * P * 3, (q + 1) * G * P * 3)),
          G,
          P,
          C,
        );
        ref.push(...s.flat(2));
      }
    }
    expect(maxErr(got, ref).abs).toBeLessThan(1e-5);
    // some points must be outside every map and some inside, so both paths are exercised
    expect(ref.some((v) => v === 0)).toBe(true);
    // the padded per-group maps made once (as decoderForward does) give the same samples
    const sm = samplingMaps(levels, cfg);
    expect(sm.maps.map((m) => m.shape)).toEqual(levels.map((t) => [B * G, t.shape[1] + 2, t.shape[2] + 2, C]));
    const before2 = tf.memory().numTensors;
    const xs2 = sampleFeatures(sm, xyzr, off, cfg);
    expect(tf.memory().numTensors).toBe(before2 + 1);
    expect(maxErr(await xs2.data(), ref).abs).toBeLessThan(1e-5);
    expect(() => sampleFeatures({ maps: sm.maps, batch: 1 }, xyzr, off, cfg)).toThrow(/batch of 1, boxes for 2/);
    tf.dispose([...levels, xyzr, off, xs, xs2, ...sm.maps]);
  });

  it('on wasm samples the host copies in the wasm kernel: bit-identical to cropAndResize on the same points; points from JavaScript within float32 rounding (web sizes, B = 2)', async () => {
    const cfg = makeConfig('web', 'vanilla');
    const d = cfg.decoder;
    const G = d.samplingGroups;
    const C = d.dFeat / G;
    const P = d.pointsIn;
    const B = 2,
      L = 7;
    const { levels, xyzr, off } = randomSamplingInputs(cfg, B, L, 5);
    const host = samplingMaps(levels, cfg, true);
    const plain = samplingMaps(levels, cfg, false);
    expect(host.host?.map((m) => [m.Hp, m.Wp, m.stride, m.data.length])).toEqual(
      host.maps.map((m, l) => [m.shape[1], m.shape[2], d.strides[l], m.size]),
    );
    expect(plain.host).toBeUndefined();
    const ref = sampleFeatures(plain, xyzr, off, cfg);
    const refData = await ref.data();
    expect(refData.some((v) => v === 0) && refData.some((v) => v !== 0)).toBe(true); // points outside and inside
    // The kernel on the points of the tfjs ops: bit-identical.
    const [xy, weights] = tf.tidy(() => {
      const p = samplePoints(xyzr, off, cfg);
      return [p.sxy.dataSync() as Float32Array, p.levelWeights.dataSync() as Float32Array];
    });
    const image = Int32Array.from(
      { length: B * L * G * P },
      (_, n) => Math.floor(n / (L * G * P)) * G + (Math.floor(n / P) % G),
    );
    const exact = wasmKernels()!.sample(host.host!, C, { xy: xy!, weights: weights!, image });
    expect(maxErr(exact, refData).abs).toBe(0);
    // The points from JavaScript (hostPoints) and sampleFeatures on them: within float32 rounding.
    const js = hostPoints(xyzr, off, cfg);
    expect(js.image).toEqual(image);
    expect(maxErr(js.xy, xy!).rel).toBeLessThan(1e-6);
    expect(maxErr(js.weights, weights!).abs).toBeLessThan(1e-6);
    const a = sampleFeatures(host, xyzr, off, cfg);
    expect(a.shape).toEqual(ref.shape);
    expect(maxErr(await a.data(), refData).abs).toBeLessThan(1e-5);
    tf.dispose([...levels, xyzr, off, a, ref, ...host.maps, ...plain.maps]);
  });

  it('rejects mismatched inputs with clear errors', () => {
    const cfg = makeConfig('tiny', 'vanilla');
    const xyzr = tf.zeros([1, 2, 4]);
    const off = tf.zeros([1, 2, 5]);
    expect(() => sampleFeatures([], xyzr, off, cfg)).toThrow(/offsets/);
    const off2 = tf.zeros([1, 2, 24]);
    expect(() => sampleFeatures([], xyzr, off2, cfg)).toThrow(/3 feature levels/);
    tf.dispose([xyzr, off, off2]);
  });
});
