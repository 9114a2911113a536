/**
 * Fused WebGPU kernels of an AdaMixer stage (one dispatch each; see docs/webgpu.md). Each equals the tfjs-op code
 * it replaces (named per kernel) up to float32 summation order:
 *   - posAdd: q + positionEmbedding(xyzr) (positional.ts);
 *   - boxAttention: the attention core of selfAttention (stage.ts) — IoF bias from the boxes, scaled Q·Kᵀ,
 *     softmax, ·V, heads merged;
 *   - sampleFeatures3d: Linear_off, the 3D sample points, level weights and zero-padded bilinear sampling of
 *     every level (sampling.ts), straight from the necked NHWC maps;
 *   - channelMixing / spatialMixing: ACM / ASM with the joint (P, C) LayerNorm and ReLU (mixing.ts), reading
 *     M_c and M_s from the generator output (nn/generator.ts layout);
 *   - refineBoxes / decodeBoxes: the box refinement of stageForward and decodeXyzr (boxes.ts).
 * Call inside tf.tidy; weights in the prepared [in, out] layout.
 */
import * as tf from '@tensorflow/tfjs';
import { LN_EPS } from '../../nn/ops';
import { f32, pow2, reduceSumSnippet, rowNormMain, runProgram } from '../../nn/webgpu/program';

const LN2 = f32(Math.LN2);

function check(cond: boolean, msg: () => string) {
  if (!cond) throw new Error(msg());
}

/** WGSL: xyzr row m of buffer `buf` → xyxy (decodeXyzr's arithmetic). */
const boxFn = (buf: string) => `
fn box(m : i32) -> vec4<f32> {
  let x = ${buf}[m * 4]; let y = ${buf}[m * 4 + 1]; let z = ${buf}[m * 4 + 2]; let r = ${buf}[m * 4 + 3];
  let hr = r * 0.5;
  let w = exp((z - hr) * ${LN2});
  let h = exp((z + hr) * ${LN2});
  let hw = w * 0.5; let hh = h * 0.5;
  return vec4<f32>(x - hw, y - hh, x + hw, y + hh);
}`;

/** q [B, L, dq] + positionEmbedding(xyzr [B, L, 4], dq, posScale) → [B, L, dq]. */
export function posAdd(q: tf.Tensor, xyzr: tf.Tensor, posScale: number): tf.Tensor {
  const dq = q.shape[q.rank - 1]!;
  const M = q.size / dq;
  check(xyzr.size === M * 4, () => `posAdd: xyzr [${xyzr.shape.join(', ')}] does not match q [${q.shape.join(', ')}]`);
  check(dq % 8 === 0, () => `posAdd: dq ${dq} must be a multiple of 8`);
  const D = dq / 4;
  const half = D / 2;
  const freq = Array.from({ length: half }, (_, m) => f32(Math.pow(10000, (2 * m) / D)));
  const code = `
var<private> FREQ : array<f32, ${half}> = array<f32, ${half}>(${freq.join(', ')});
fn main(index : i32) {
  if (index < ${M * dq}) {
    let m = index / ${dq};
    let j = index - m * ${dq};
    let c = j / ${D};
    let w = j - c * ${D};
    var v = Xyzr[m * 4 + c];
    if (c < 2) { v = v / ${f32(posScale)}; }
    let a = v / FREQ[w / 2];
    var pe = cos(a);
    if (w % 2 == 0) { pe = sin(a); }
    result[index] = Q[index] + pe;
  }
}`;
  return runProgram(
    {
      name: 'posAdd',
      key: `${M}_${dq}_${f32(posScale)}`,
      inputs: ['Q', 'Xyzr'],
      outputShape: [...q.shape],
      threads: M * dq,
      workgroupSize: 64,
      code,
    },
    [q, xyzr],
  );
}

/**
 * Box-aware attention core: qkv [B, L, 3·dq] (in-projection output, [B, L, 3, H, hd] layout), xyzr [B, L, 4],
 * tau [H] → softmax(Q·Kᵀ/√hd + log(iof + 1e-7)·τ_h)·V with heads merged, [B, L, dq]. One workgroup per (b, h, i).
 */
export function boxAttention(qkv: tf.Tensor, xyzr: tf.Tensor, tau: tf.Tensor, heads: number): tf.Tensor {
  check(
    qkv.rank === 3 && qkv.shape[2]! % 3 === 0,
    () => `boxAttention: qkv must be [B, L, 3·dq], got [${qkv.shape.join(', ')}]`,
  );
  const [B, L, three] = qkv.shape as [number, number, number];
  const dq = three / 3;
  const H = heads;
  check(dq % H === 0 && tau.size === H, () => `boxAttention: dq ${dq} / ${H} heads, tau has ${tau.size} values`);
  check(xyzr.size === B * L * 4, () => `boxAttention: xyzr [${xyzr.shape.join(', ')}] is not [${B}, ${L}, 4]`);
  const hd = dq / H;
  const WG = 64;
  const groups = B * H * L;
  const code = `
${reduceSumSnippet(WG)}
${boxFn('Xyzr')}
var<workgroup> p : array<f32, ${L}>;
var<workgroup> qi : array<f32, ${hd}>;
fn main(index : i32) {
  let wg = index / ${WG};
  let lane = index - wg * ${WG};
  let ok = wg < ${groups};
  let b = wg / ${H * L};
  let rest = wg - b * ${H * L};
  let h = rest / ${L};
  let i = rest - h * ${L};
  let mi = b * ${L} + i;
  if (ok && lane < ${hd}) { qi[lane] = QKV[mi * ${3 * dq} + h * ${hd} + lane] * ${f32(1 / Math.sqrt(hd))}; }
  workgroupBarrier();
  var mx = -3.0e38;
  if (ok) {
    let bi = box(mi);
    let area = max((bi.z - bi.x) * (bi.w - bi.y), 1e-6);
    let tau = Tau[h];
    for (var j = lane; j < ${L}; j = j + ${WG}) {
      let mj = b * ${L} + j;
      var d = 0.0;
      for (var e = 0; e < ${hd}; e++) { d = d + qi[e] * QKV[mj * ${3 * dq} + ${dq} + h * ${hd} + e]; }
      let bj = box(mj);
      let iw = max(min(bi.z, bj.z) - max(bi.x, bj.x), 0.0);
      let ih = max(min(bi.w, bj.w) - max(bi.y, bj.y), 0.0);
      let s = d + log(iw * ih / area + 1e-7) * tau;
      p[j] = s;
      mx = max(mx, s);
    }
  }
  let m = reduceMax(mx);
  var sum = 0.0;
  if (ok) {
    for (var j = lane; j < ${L}; j = j + ${WG}) { let e = exp(p[j] - m); p[j] = e; sum = sum + e; }
  }
  let total = reduceSum(sum);
  if (ok && lane < ${hd}) {
    var acc = 0.0;
    for (var j = 0; j < ${L}; j++) {
      acc = acc + (p[j] / total) * QKV[(b * ${L} + j) * ${3 * dq} + ${2 * dq} + h * ${hd} + lane];
    }
    result[mi * ${dq} + h * ${hd} + lane] = acc;
  }
}`;
  return runProgram(
    {
      name: 'boxAttention',
      key: `${B}_${L}_${dq}_${H}`,
      inputs: ['QKV', 'Xyzr', 'Tau'],
      outputShape: [B, L, dq],
      threads: groups * WG,
      workgroupSize: WG,
      code,
    },
    [qkv, xyzr, tau],
  );
}

export interface SamplingShape {
  /** G sampling groups, P_in points per group, C channels per group (the maps have G·C). */
  G: number;
  P: number;
  C: number;
  strides: number[];
}

/** The necked levels packed per image into one buffer [B, Σ_l H_l·W_l·CF] (one dispatch; made once per forward). */
export interface PackedLevels {
  maps: tf.Tensor2D;
  /** [H_l, W_l] per level. */
  sizes: [number, number][];
  /** Channels per pixel (G·C). */
  channels: number;
}

/** levels NHWC [B, H_l, W_l, CF] → PackedLevels (one concat). */
export function packLevels(levels: tf.Tensor4D[]): PackedLevels {
  const B = levels[0]!.shape[0];
  const channels = levels[0]!.shape[3];
  levels.forEach((t, l) =>
    check(t.shape[0] === B && t.shape[3] === channels, () => `packLevels: level ${l} is [${t.shape.join(', ')}]`),
  );
  const maps = tf.concat(
    levels.map((t) => t.reshape([B, -1])),
    1,
  ) as tf.Tensor2D;
  return { maps, sizes: levels.map((t) => [t.shape[1], t.shape[2]]), channels };
}

/**
 * Adaptive 3D sampling in one dispatch. x [B, L, dq] (the query after self-attention), wOff [dq, G·P·3] and
 * bOff [G·P·3] (Linear_off), xyzr [B, L, 4], the packed necked maps → x_s [B, L, G, P, C]. One workgroup per
 * (query, group, point), one invocation per channel: Linear_off's three outputs, the point
 * (x + o_x·w, y + o_y·h, z + o_z), softmax level weights of −(z − log2 s_l)²/2, and the weighted sum of the levels'
 * bilinear samples at u = x/s_l − 0.5 (half-pixel centres, zero outside the map).
 */
export function sampleFeatures3d(
  x: tf.Tensor,
  wOff: tf.Tensor,
  bOff: tf.Tensor,
  xyzr: tf.Tensor,
  packed: PackedLevels,
  s: SamplingShape,
): tf.Tensor {
  const { G, P, C, strides } = s;
  check(x.rank === 3, () => `sampleFeatures3d: x must be [B, L, dq], got [${x.shape.join(', ')}]`);
  const [B, L, dq] = x.shape as [number, number, number];
  const M = B * L;
  const off = G * P * 3;
  check(
    wOff.rank === 2 && wOff.shape[0] === dq && wOff.shape[1] === off && bOff.size === off,
    () =>
      `sampleFeatures3d: Linear_off must be [${dq}, ${off}] + [${off}], ` +
      `got [${wOff.shape.join(', ')}] + [${bOff.size}]`,
  );
  check(xyzr.size === M * 4, () => `sampleFeatures3d: xyzr [${xyzr.shape.join(', ')}] is not [${B}, ${L}, 4]`);
  check(
    packed.sizes.length === strides.length,
    () => `sampleFeatures3d: ${packed.sizes.length} levels for strides ${strides.join('/')}`,
  );
  const CF = packed.channels;
  check(CF === G * C, () => `sampleFeatures3d: maps have ${CF} channels, expected G·C = ${G * C}`);
  const total = packed.sizes.reduce((a, [h, w]) => a + h * w * CF, 0);
  check(
    packed.maps.rank === 2 && packed.maps.shape[0] === B && packed.maps.shape[1] === total,
    () => `sampleFeatures3d: packed maps [${packed.maps.shape.join(', ')}], expected [${B}, ${total}]`,
  );
  const WG = pow2(C, 32, 64);
  const groups = M * G * P;
  const nl = packed.sizes.length;
  const bases: number[] = [];
  packed.sizes.reduce((acc, [h, w]) => {
    bases.push(acc);
    return acc + h * w * CF;
  }, 0);
  const arr = (t: string, v: string[]) => `array<${t}, ${nl}>(${v.join(', ')})`;
  // One branch-free bilinear body for every level (level sizes in small tables): a shader with one copy per level
  // and early returns never finished on SwiftShader.
  const samplers = `
var<private> LH = ${arr(
    'i32',
    packed.sizes.map(([h]) => `${h}`),
  )};
var<private> LW = ${arr(
    'i32',
    packed.sizes.map(([, w]) => `${w}`),
  )};
var<private> LBASE = ${arr('i32', bases.map(String))};
var<private> LSTRIDE = ${arr(
    'f32',
    strides.map((st) => f32(st)),
  )};
fn tap(b : i32, l : i32, iy : i32, ix : i32, ch : i32) -> f32 {
  let inside = iy >= 0 && iy < LH[l] && ix >= 0 && ix < LW[l];
  let i = select(0, b * ${total} + LBASE[l] + (iy * LW[l] + ix) * ${CF} + ch, inside);
  return select(0.0, Maps[i], inside);
}
fn sampleLevel(b : i32, l : i32, sx : f32, sy : f32, ch : i32) -> f32 {
  let u = clamp(sx / LSTRIDE[l] - 0.5, -2.0, f32(LW[l] + 1));
  let v = clamp(sy / LSTRIDE[l] - 0.5, -2.0, f32(LH[l] + 1));
  let fu = floor(u); let fv = floor(v);
  let ix = i32(fu); let iy = i32(fv);
  let dx = u - fu; let dy = v - fv;
  let tl = tap(b, l, iy, ix, ch); let tr = tap(b, l, iy, ix + 1, ch);
  let bl = tap(b, l, iy + 1, ix, ch); let br = tap(b, l, iy + 1, ix + 1, ch);
  let top = tl + (tr - tl) * dx;
  let bot = bl + (br - bl) * dx;
  return top + (bot - top) * dy;
}`;
  const log2s = strides.map((st) => f32(Math.log2(st)));
  const code = `
${samplers}
fn main(index : i32) {
  let wg = index / ${WG};
  let lane = index - wg * ${WG};
  let m = wg / ${G * P};
  let gp = wg - m * ${G * P};
  let g = gp / ${P};
  if (wg < ${groups}) {
    // Linear_off's three outputs for this point (every invocation of the workgroup computes them: 3·dq MACs).
    var o3 = vec3<f32>(0.0);
    for (var k = 0; k < ${dq}; k++) {
      let xk = X[m * ${dq} + k];
      let wk = k * ${off} + gp * 3;
      o3 = o3 + xk * vec3<f32>(Woff[wk], Woff[wk + 1], Woff[wk + 2]);
    }
    o3 = o3 + vec3<f32>(Boff[gp * 3], Boff[gp * 3 + 1], Boff[gp * 3 + 2]);
    let b = m / ${L};
    let z = Xyzr[m * 4 + 2];
    let hr = Xyzr[m * 4 + 3] * 0.5;
    let sx = Xyzr[m * 4] + o3[0] * exp((z - hr) * ${LN2});
    let sy = Xyzr[m * 4 + 1] + o3[1] * exp((z + hr) * ${LN2});
    let sz = z + o3[2];
    var lg : array<f32, ${nl}>;
    var mx = -3.0e38;
    ${log2s.map((v, l) => `lg[${l}] = (sz - ${v}) * (sz - ${v}) * -0.5; mx = max(mx, lg[${l}]);`).join('\n    ')}
    var tot = 0.0;
    for (var l = 0; l < ${nl}; l++) { lg[l] = exp(lg[l] - mx); tot = tot + lg[l]; }
    for (var c = lane; c < ${C}; c = c + ${WG}) {
      let ch = g * ${C} + c;
      var acc = 0.0;
      for (var l = 0; l < ${nl}; l++) { acc = acc + sampleLevel(b, l, sx, sy, ch) * (lg[l] / tot); }
      result[wg * ${C} + c] = acc;
    }
  }
}`;
  return runProgram(
    {
      name: 'sampleFeatures3d',
      key: `${B}_${L}_${dq}_${G}_${P}_${C}_${packed.sizes.map((hw) => hw.join('x')).join('_')}_${strides.join('-')}`,
      inputs: ['X', 'Woff', 'Boff', 'Xyzr', 'Maps'],
      outputShape: [B, L, G, P, C],
      threads: groups * WG,
      workgroupSize: WG,
      code,
    },
    [x, wOff, bOff, xyzr, packed.maps],
  );
}

export interface MixingShape {
  G: number;
  C: number;
  Pin: number;
  Pout: number;
}

/**
 * WGSL main shared by both mixings: one workgroup per (query, group) row of `size` outputs, `value` computes output
 * j of row `row` after `prelude`; then the joint LayerNorm (no affine) + ReLU.
 */
function mixingMain(rows: number, size: number, WG: number, prelude: string, value: string): string {
  return rowNormMain({
    rows,
    size,
    wg: WG,
    eps: LN_EPS,
    prelude,
    value,
    write: `result[row * ${size} + j] = max(y, 0.0);`,
  });
}

/**
 * ACM (paper Eq. 4) + LN_(P_in, C) + ReLU: xs [B, L, G, P_in, C], gen [B, L, G·(C·C + P_out·P_in)] (M_c row-major
 * C_in × C_out first in each group) → [B·L·G, P_in, C]. One workgroup per (query, group).
 */
export function channelMixing(xs: tf.Tensor, gen: tf.Tensor, s: MixingShape): tf.Tensor {
  const { G, C, Pin, Pout } = s;
  const per = C * C + Pout * Pin;
  const M = gen.size / (G * per);
  check(
    Number.isInteger(M) && xs.size === M * G * Pin * C,
    () => `channelMixing: xs [${xs.shape.join(', ')}] and gen [${gen.shape.join(', ')}] do not match`,
  );
  const n = M * G;
  const size = Pin * C;
  const WG = pow2(size, 32, 256);
  const code = `
${reduceSumSnippet(WG)}
${mixingMain(
  n,
  size,
  WG,
  `let mc = (row / ${G}) * ${G * per} + (row % ${G}) * ${per};`,
  `let p = j / ${C};
      let c2 = j - p * ${C};
      for (var c = 0; c < ${C}; c++) { acc = acc + Xs[(row * ${Pin} + p) * ${C} + c] * Gen[mc + c * ${C} + c2]; }`,
)}`;
  return runProgram(
    {
      name: 'channelMixing',
      key: `${n}_${G}_${C}_${Pin}_${Pout}`,
      inputs: ['Xs', 'Gen'],
      outputShape: [n, Pin, C],
      threads: n * WG,
      workgroupSize: WG,
      code,
    },
    [xs, gen],
  );
}

/**
 * ASM (paper Eq. 6, [P_out × P_in] layout) + LN_(P_out, C) + ReLU: a [B·L·G, P_in, C] (channelMixing's output), gen
 * as for channelMixing (M_s after M_c in each group) → [B, L, G·P_out·C]. One workgroup per (query, group).
 */
export function spatialMixing(a: tf.Tensor, gen: tf.Tensor, s: MixingShape, B: number, L: number): tf.Tensor {
  const { G, C, Pin, Pout } = s;
  const per = C * C + Pout * Pin;
  const n = B * L * G;
  check(
    a.size === n * Pin * C && gen.size === B * L * G * per,
    () => `spatialMixing: a [${a.shape.join(', ')}] and gen [${gen.shape.join(', ')}] do not match`,
  );
  const size = Pout * C;
  const WG = pow2(size, 32, 256);
  const code = `
${reduceSumSnippet(WG)}
${mixingMain(
  n,
  size,
  WG,
  `let ms = (row / ${G}) * ${G * per} + (row % ${G}) * ${per} + ${C * C};`,
  `let q = j / ${C};
      let c = j - q * ${C};
      for (var p = 0; p < ${Pin}; p++) { acc = acc + Gen[ms + q * ${Pin} + p] * A[(row * ${Pin} + p) * ${C} + c]; }`,
)}`;
  return runProgram(
    {
      name: 'spatialMixing',
      key: `${n}_${G}_${C}_${Pin}_${Pout}`,
      inputs: ['A', 'Gen'],
      outputShape: [B, L, G * size],
      threads: n * WG,
      workgroupSize: WG,
      code,
    },
    [a, gen],
  );
}

/** Box refinement: xyzr [B, L, 4], delta [B, L, 4] → (x + dx·2^z, y + dy·2^z, z + dz, r + dr). */
export function refineBoxes(xyzr: tf.Tensor, delta: tf.Tensor): tf.Tensor {
  check(
    xyzr.size === delta.size && xyzr.shape[xyzr.rank - 1] === 4,
    () => `refineBoxes: xyzr [${xyzr.shape.join(', ')}], delta [${delta.shape.join(', ')}]`,
  );
  const M = xyzr.size / 4;
  const code = `
fn main(index : i32) {
  if (index < ${M * 4}) {
    let m = index / 4;
    let k = index - m * 4;
    var v = Xyzr[index] + D[index];
    if (k < 2) { v = Xyzr[index] + D[index] * exp(Xyzr[m * 4 + 2] * ${LN2}); }
    result[index] = v;
  }
}`;
  return runProgram(
    {
      name: 'refineBoxes',
      key: `${M}`,
      inputs: ['Xyzr', 'D'],
      outputShape: [...xyzr.shape],
      threads: M * 4,
      workgroupSize: 64,
      code,
    },
    [xyzr, delta],
  );
}

/** xyzr [..., 4] → xyxy [..., 4] (decodeXyzr). */
export function decodeBoxes(xyzr: tf.Tensor): tf.Tensor {
  check(xyzr.shape[xyzr.rank - 1] === 4, () => `decodeBoxes: last dim must be 4, got [${xyzr.shape.join(', ')}]`);
  const M = xyzr.size / 4;
  const code = `
${boxFn('Xyzr')}
fn main(index : i32) {
  if (index < ${M * 4}) {
    let m = index / 4;
    let b = box(m);
    result[index] = b[index - m * 4];
  }
}`;
  return runProgram(
    {
      name: 'decodeBoxes',
      key: `${M}`,
      inputs: ['Xyzr'],
      outputShape: [...xyzr.shape],
      threads: M * 4,
      workgroupSize: 64,
      code,
    },
    [xyzr],
  );
}
