/**
 * The level-weighted bilinear sampling of sampling.ts computed in JavaScript on the maps' host copies, for backends
 * whose tensors live in CPU memory (wasm). tfjs-wasm's CropAndResize spends ~6 ns per output value on index
 * arithmetic; this loop does the same float32 arithmetic (every step rounded with Math.fround, in the kernel's
 * order) and the level weighting and sum of sampling.ts (multiply, then add the levels in order), so its result is
 * bit-identical to CropAndResize · weight summed by AddN.
 */

/** One level's zero-padded per-group map [B·G, Hp, Wp, C] as a host array. */
export interface HostMap {
  data: Float32Array;
  Hp: number;
  Wp: number;
  stride: number;
}

const f = Math.fround;

/**
 * xy [N, 2] sample (x, y) in pixels; weights [N, nl] level weights; image [N] the map row (b·G + g) of each sample.
 * Returns [N, C]: Σ_l weights[n, l] · bilinear(maps[l], point n), sampled as sampling.ts's cropAndResize does.
 */
export function sampleBilinearHost(
  maps: HostMap[],
  C: number,
  xy: Float32Array,
  weights: Float32Array,
  image: Int32Array,
): Float32Array {
  const N = image.length;
  const nl = maps.length;
  const out = new Float32Array(N * C);
  for (let l = 0; l < nl; l++) {
    const { data, Hp, Wp, stride } = maps[l]!;
    const first = l === 0;
    for (let n = 0; n < N; n++) {
      const w = weights[n * nl + l]!;
      const o = n * C;
      // sampling.ts: box = (s / stride + 0.5) / (size − 1); CropAndResize: index = box · (size − 1).
      const yInd = f(f(f(f(xy[2 * n + 1]! / stride) + 0.5) / (Hp - 1)) * (Hp - 1));
      const xInd = f(f(f(f(xy[2 * n]! / stride) + 0.5) / (Wp - 1)) * (Wp - 1));
      if (!(yInd >= 0 && yInd <= Hp - 1 && xInd >= 0 && xInd <= Wp - 1)) {
        // the extrapolation value 0 times the weight
        const z = f(0 * w);
        if (first) out.fill(z, o, o + C);
        else for (let c = 0; c < C; c++) out[o + c] = out[o + c]! + z;
        continue;
      }
      const top = Math.floor(yInd);
      const bottom = Math.min(Hp - 1, Math.ceil(yInd));
      const yl = f(yInd - top);
      const left = Math.floor(xInd);
      const right = Math.min(Wp - 1, Math.ceil(xInd));
      const xl = f(xInd - left);
      const base = image[n]! * Hp * Wp * C;
      const tl = base + (top * Wp + left) * C;
      const tr = base + (top * Wp + right) * C;
      const bl = base + (bottom * Wp + left) * C;
      const br = base + (bottom * Wp + right) * C;
      for (let c = 0; c < C; c++) {
        const a = data[tl + c]!;
        const d = data[bl + c]!;
        const t = f(a + f(f(data[tr + c]! - a) * xl));
        const u = f(d + f(f(data[br + c]! - d) * xl));
        const v = f(f(t + f(f(u - t) * yl)) * w);
        // (a Float32Array store rounds the sum to float32)
        out[o + c] = first ? v : out[o + c]! + v;
      }
    }
  }
  return out;
}
