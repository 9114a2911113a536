/**
 * Generic fused WebGPU kernels (one dispatch each) for the row-wise pieces of a transformer-style block: Linear +
 * residual + LayerNorm, a Linear → LayerNorm → ReLU → Linear head, a plain LayerNorm of rows, a GroupNorm of
 * NHWC maps, and a Linear with bias (and ReLU) by tfjs's own fused matMul. Each equals the tfjs-op sequence it
 * replaces (nn/ops.ts) up to float32 summation order. Call inside tf.tidy; weights are in the prepared [in, out]
 * layout (prepare.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { LN_EPS } from '../ops';
import { f32, pow2, reduceSumSnippet, rowNormMain, runProgram } from './program';

function check(cond: boolean, msg: () => string) {
  if (!cond) throw new Error(msg());
}

/** y = x·W + b (W [in, out]), optional ReLU, over the last dim of x: tfjs's fused matMul, one dispatch. */
export function linearFused(x: tf.Tensor, wInOut: tf.Tensor, bias?: tf.Tensor, relu = false): tf.Tensor {
  const K = x.shape[x.rank - 1]!;
  check(
    wInOut.rank === 2 && wInOut.shape[0] === K,
    () => `linearFused: input has ${K} features, weight is [${wInOut.shape.join(', ')}]`,
  );
  const N = wInOut.shape[1]!;
  const y = tf.fused.matMul({
    a: x.reshape([-1, K]) as tf.Tensor2D,
    b: wInOut as tf.Tensor2D,
    bias,
    activation: relu ? 'relu' : 'linear',
  });
  return y.reshape([...x.shape.slice(0, -1), N]);
}

/**
 * LN(res + a·W + b)·γ + β per row: a [M, K], W [K, N] (prepared layout), b, γ, β [N], res [M, N] → [M, N].
 * One workgroup per row.
 */
export function linearResidualLayerNorm(
  a: tf.Tensor,
  w: tf.Tensor,
  bias: tf.Tensor,
  res: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
): tf.Tensor {
  const K = a.shape[a.rank - 1]!;
  const M = a.size / K;
  check(
    w.rank === 2 && w.shape[0] === K,
    () => `linearResidualLayerNorm: input has ${K} features, weight is [${w.shape.join(', ')}]`,
  );
  const N = w.shape[1]!;
  check(
    res.size === M * N && res.shape[res.rank - 1] === N,
    () => `linearResidualLayerNorm: residual [${res.shape.join(', ')}] is not [${M}, ${N}]`,
  );
  for (const [n, t] of [
    ['bias', bias],
    ['gamma', gamma],
    ['beta', beta],
  ] as const) {
    check(t.size === N, () => `linearResidualLayerNorm: ${n} has ${t.size} values, expected ${N}`);
  }
  const WG = pow2(N);
  const code = `
${reduceSumSnippet(WG)}
${rowNormMain({
  rows: M,
  size: N,
  wg: WG,
  eps: LN_EPS,
  value: `for (var k = 0; k < ${K}; k++) { acc = acc + A[row * ${K} + k] * W[k * ${N} + j]; }
      acc = R[row * ${N} + j] + (acc + Bias[j]);`,
  write: `result[row * ${N} + j] = y * Gamma[j] + Beta[j];`,
})}`;
  const outShape = [...res.shape];
  return runProgram(
    {
      name: 'linearResidualLayerNorm',
      key: `${M}_${K}_${N}`,
      inputs: ['A', 'W', 'Bias', 'R', 'Gamma', 'Beta'],
      outputShape: outShape,
      threads: M * WG,
      workgroupSize: WG,
      code,
    },
    [a, w, bias, res, gamma, beta],
  );
}

/**
 * ReLU(LN(x·W1 + b1)·γ + β)·W2 + b2 per row (a detection head branch): x [M, D], W1 [D, H], W2 [H, O] (prepared
 * layout) → [M, O]. One workgroup per row.
 */
export function mlpHead(
  x: tf.Tensor,
  w1: tf.Tensor,
  b1: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  w2: tf.Tensor,
  b2: tf.Tensor,
): tf.Tensor {
  const D = x.shape[x.rank - 1]!;
  const M = x.size / D;
  check(
    w1.rank === 2 && w1.shape[0] === D,
    () => `mlpHead: input has ${D} features, first weight is [${w1.shape.join(', ')}]`,
  );
  const H = w1.shape[1]!;
  check(
    w2.rank === 2 && w2.shape[0] === H,
    () => `mlpHead: hidden has ${H} features, second weight is [${w2.shape.join(', ')}]`,
  );
  const O = w2.shape[1]!;
  check(
    b1.size === H && gamma.size === H && beta.size === H && b2.size === O,
    () => 'mlpHead: bias/LayerNorm sizes do not match the weights',
  );
  const WG = pow2(H);
  const code = `
${reduceSumSnippet(WG)}
var<workgroup> hid : array<f32, ${H}>;
${rowNormMain({
  rows: M,
  size: H,
  wg: WG,
  eps: LN_EPS,
  value: `for (var k = 0; k < ${D}; k++) { acc = acc + X[row * ${D} + k] * W1[k * ${H} + j]; }
      acc = acc + B1[j];`,
  write: `hid[j] = max(y * Gamma[j] + Beta[j], 0.0);`,
  after: `workgroupBarrier();
  for (var o = lane; o < ${O}; o = o + ${WG}) {
    if (ok) {
      var acc = 0.0;
      for (var k = 0; k < ${H}; k++) { acc = acc + hid[k] * W2[k * ${O} + o]; }
      result[row * ${O} + o] = acc + B2[o];
    }
  }`,
})}`;
  return runProgram(
    {
      name: 'mlpHead',
      key: `${M}_${D}_${H}_${O}`,
      inputs: ['X', 'W1', 'B1', 'Gamma', 'Beta', 'W2', 'B2'],
      outputShape: [...x.shape.slice(0, -1), O],
      threads: M * WG,
      workgroupSize: WG,
      code,
    },
    [x, w1, b1, gamma, beta, w2, b2],
  );
}

/**
 * Plain LayerNorm (no affine) of the rows of x [R, N], written `repeat` times: → [repeat·R, N] (row r of the output
 * is LN of row r mod R), i.e. LN then broadcast over a batch. One workgroup per output row.
 */
export function layerNormRows(x: tf.Tensor, repeat = 1): tf.Tensor {
  const N = x.shape[x.rank - 1]!;
  const R = x.size / N;
  const M = R * repeat;
  const WG = pow2(N);
  const code = `
${reduceSumSnippet(WG)}
${rowNormMain({
  rows: M,
  size: N,
  wg: WG,
  eps: LN_EPS,
  prelude: `let src = row % ${R};`,
  value: `acc = X[src * ${N} + j];`,
  write: `result[row * ${N} + j] = y;`,
})}`;
  return runProgram(
    {
      name: 'layerNormRows',
      key: `${R}_${N}_${repeat}`,
      inputs: ['X'],
      outputShape: [M, N],
      threads: M * WG,
      workgroupSize: WG,
      code,
    },
    [x],
  );
}

/**
 * GroupNorm of NHWC maps x [B, H, W, C] with `groups` channel groups (statistics per image and group over
 * H·W·C/groups), then ·γ + β per channel. One workgroup per (image, group).
 */
export function groupNorm(x: tf.Tensor4D, groups: number, gamma: tf.Tensor, beta: tf.Tensor, eps: number): tf.Tensor4D {
  const [B, H, W, C] = x.shape;
  check(C % groups === 0, () => `groupNorm: ${C} channels are not divisible by ${groups} groups`);
  check(gamma.size === C && beta.size === C, () => `groupNorm: γ, β must have ${C} values`);
  const S = H * W;
  const Cg = C / groups;
  const n = S * Cg;
  const WG = 256;
  const code = `
${reduceSumSnippet(WG)}
fn at(b : i32, g : i32, e : i32) -> i32 {
  let s = e / ${Cg};
  return (b * ${S} + s) * ${C} + g * ${Cg} + (e - s * ${Cg});
}
fn main(index : i32) {
  let wg = index / ${WG};
  let lane = index - wg * ${WG};
  let ok = wg < ${B * groups};
  let b = wg / ${groups};
  let g = wg - b * ${groups};
  var s = 0.0;
  if (ok) { for (var e = lane; e < ${n}; e = e + ${WG}) { s = s + X[at(b, g, e)]; } }
  let mean = reduceSum(s) / ${n}.0;
  var s2 = 0.0;
  if (ok) { for (var e = lane; e < ${n}; e = e + ${WG}) { let d = X[at(b, g, e)] - mean; s2 = s2 + d * d; } }
  let rstd = inverseSqrt(reduceSum(s2) / ${n}.0 + ${f32(eps)});
  if (ok) {
    for (var e = lane; e < ${n}; e = e + ${WG}) {
      let i = at(b, g, e);
      let c = g * ${Cg} + e % ${Cg};
      result[i] = (X[i] - mean) * rstd * Gamma[c] + Beta[c];
    }
  }
}`;
  return runProgram(
    {
      name: 'groupNorm',
      key: `${B}_${S}_${C}_${groups}_${f32(eps)}`,
      inputs: ['X', 'Gamma', 'Beta'],
      outputShape: [B, H, W, C],
      threads: B * groups * WG,
      workgroupSize: WG,
      code,
    },
    [x, gamma, beta],
  ) as tf.Tensor4D;
}
