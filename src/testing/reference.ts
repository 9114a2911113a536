/**
 * Test-only (the *.test.ts files and the WebGPU-vs-wasm self-test page, src/selftest/; never imported by the app):
 * random weights of parameterSpec shapes, and a plain-JS (float64, loops, no tfjs) reference of the whole decoder
 * written straight from the equations (paper Eqs. 1–12, docs/model.md).
 */
export const TEST_ONLY_MARKER = 'lors-studio:test-only-reference';
import * as tf from '@tensorflow/tfjs';
import { dims, type ModelConfig } from '../model/config';
import { parameterSpec, size } from '../model/params';
import { uniformSource } from '../model/random';
import type { WeightMap } from '../model/types';
import { VARIANTS } from '../model/variants';

/** Uniform [0, 1) draws of the project's one seeded Rng. */
export const rng = (seed: number): (() => number) => uniformSource(seed);

export function uniformArray(n: number, lo: number, hi: number, rand: () => number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * rand();
  return a;
}

/** A tensor of the given shape, uniform in [lo, hi) from `rand`. */
export function uniformTensor(shape: number[], lo: number, hi: number, rand: () => number): tf.Tensor {
  return tf.tensor(
    uniformArray(
      shape.reduce((a, b) => a * b, 1),
      lo,
      hi,
      rand,
    ),
    shape,
  );
}

/** Random (non-degenerate, every path non-zero) weights with the names and shapes of parameterSpec(cfg). */
export function randomWeights(cfg: ModelConfig, seed = 1): WeightMap {
  const rand = rng(seed);
  const m: WeightMap = new Map();
  for (const p of parameterSpec(cfg)) {
    const n = size(p.shape);
    const u = (lo: number, hi: number) => uniformArray(n, lo, hi, rand);
    let data: Float32Array;
    if (p.name === 'queries.content') data = u(-1.7, 1.7);
    else if (p.name.endsWith('.iofTau')) data = u(0, 4);
    else if (p.name.endsWith('sampling.offset.bias')) {
      data = u(-0.6, 0.6);
      for (let i = 2; i < n; i += 3) data[i] = -1 + 1.5 * (rand() - 0.5);
    } else if (p.name.endsWith('sampling.offset.weight'))
      data = u(-0.3 / Math.sqrt(p.shape[1]!), 0.3 / Math.sqrt(p.shape[1]!));
    else if (p.name.endsWith('reg.out.weight') || p.name.endsWith('reg.out.bias')) data = u(-0.08, 0.08);
    else if (p.init.kind === 'ones') data = u(0.8, 1.2);
    else if (p.shape.length === 1) data = u(-0.2, 0.2);
    else if (p.shape.length === 3) data = u(-0.4, 0.4);
    else {
      const b = 1.5 / Math.sqrt(p.shape[1]!);
      data = u(-b, b);
    }
    m.set(p.name, tf.tensor(data, p.shape));
  }
  return m;
}

export function disposeWeights(w: WeightMap): void {
  for (const t of w.values()) t.dispose();
}

/** Random raw backbone levels NHWC for a padded image of padW × padH. */
export function randomLevels(cfg: ModelConfig, B: number, padW: number, padH: number, seed = 7): tf.Tensor4D[] {
  const rand = rng(seed);
  return cfg.decoder.strides.map((s) => {
    const H = Math.ceil(padH / s);
    const W = Math.ceil(padW / s);
    return tf.tensor4d(uniformArray(B * H * W * cfg.decoder.featChannels, -1, 1, rand), [
      B,
      H,
      W,
      cfg.decoder.featChannels,
    ]);
  });
}

/**
 * A stage's sampling inputs at the 416-px input: necked maps [B, h, h, dFeat] (h = 52, 26, 13) with values in
 * [−2, 2], boxes xyzr [B, L, 4] anywhere in the image (some sample points fall outside it) and offsets
 * [B, L, G·P_in·3] in [−2, 2]. `rand` continues the same sequence for more inputs.
 */
export function randomSamplingInputs(cfg: ModelConfig, B: number, L: number, seed: number) {
  const d = cfg.decoder;
  const rand = rng(seed);
  const levels = [52, 26, 13].map(
    (h) => tf.tensor4d(uniformArray(B * h * h * d.dFeat, -2, 2, rand), [B, h, h, d.dFeat]) as tf.Tensor4D,
  );
  const box: number[] = [];
  for (let i = 0; i < B * L; i++) box.push(rand() * 416, rand() * 416, 3 + rand() * 6, rand() * 2 - 1);
  const xyzr = tf.tensor3d(box, [B, L, 4]);
  const n = d.samplingGroups * d.pointsIn * 3;
  const off = tf.tensor3d(uniformArray(B * L * n, -2, 2, rand), [B, L, n]);
  return { levels, xyzr, off, rand };
}

// ------------------------------------------------------------------------------------------------
// Plain-JS reference (float64). Vectors are number[]; matrices are number[][] (rows).

export type Arr = ArrayLike<number>;
export interface JsMap {
  data: Arr;
  B: number;
  H: number;
  W: number;
  Cn: number;
}

export function jsLinear(x: number[], W: Arr, b: Arr | undefined, outDim: number): number[] {
  const inDim = x.length;
  const y = new Array<number>(outDim);
  for (let o = 0; o < outDim; o++) {
    let s = b ? b[o]! : 0;
    for (let i = 0; i < inDim; i++) s += W[o * inDim + i]! * x[i]!;
    y[o] = s;
  }
  return y;
}

export function jsLayerNorm(x: number[], g?: Arr, b?: Arr, eps = 1e-5): number[] {
  const n = x.length;
  const mean = x.reduce((a, v) => a + v, 0) / n;
  const variance = x.reduce((a, v) => a + (v - mean) ** 2, 0) / n;
  const inv = 1 / Math.sqrt(variance + eps);
  return x.map((v, i) => (v - mean) * inv * (g ? g[i]! : 1) + (b ? b[i]! : 0));
}

export function jsDecode([x, y, z, r]: number[]): number[] {
  const w = 2 ** (z! - r! / 2);
  const h = 2 ** (z! + r! / 2);
  return [x! - w / 2, y! - h / 2, x! + w / 2, y! + h / 2];
}

export function jsIof(a: number[], b: number[]): number {
  const iw = Math.max(0, Math.min(a[2]!, b[2]!) - Math.max(a[0]!, b[0]!));
  const ih = Math.max(0, Math.min(a[3]!, b[3]!) - Math.max(a[1]!, b[1]!));
  return (iw * ih) / Math.max((a[2]! - a[0]!) * (a[3]! - a[1]!), 1e-6);
}

export function jsPositionEmbedding(xyzr: number[], dq: number): number[] {
  const D = dq / 4;
  const v = [xyzr[0]! / 1000, xyzr[1]! / 1000, xyzr[2]!, xyzr[3]!];
  const pe = new Array<number>(dq);
  for (let c = 0; c < 4; c++) {
    for (let m = 0; m < D / 2; m++) {
      const f = Math.pow(10000, (2 * m) / D);
      pe[c * D + 2 * m] = Math.sin(v[c]! / f);
      pe[c * D + 2 * m + 1] = Math.cos(v[c]! / f);
    }
  }
  return pe;
}

/** Bilinear sample of channels [c0, c0+C) of image b at pixel coords (u, v), zero padding outside. */
export function jsBilinear(map: JsMap, b: number, c0: number, C: number, u: number, v: number): number[] {
  const out = new Array<number>(C).fill(0);
  const x0 = Math.floor(u);
  const y0 = Math.floor(v);
  for (const [xx, wx] of [
    [x0, 1 - (u - x0)],
    [x0 + 1, u - x0],
  ] as const) {
    for (const [yy, wy] of [
      [y0, 1 - (v - y0)],
      [y0 + 1, v - y0],
    ] as const) {
      if (xx < 0 || xx > map.W - 1 || yy < 0 || yy > map.H - 1) continue;
      const base = ((b * map.H + yy) * map.W + xx) * map.Cn + c0;
      for (let c = 0; c < C; c++) out[c] = out[c]! + wx * wy * map.data[base + c]!;
    }
  }
  return out;
}

/** x_s for one query: [G][P][C]. */
export function jsSample(
  maps: JsMap[],
  strides: number[],
  b: number,
  xyzr: number[],
  off: number[],
  G: number,
  P: number,
  C: number,
): number[][][] {
  const [x, y, z, r] = xyzr as [number, number, number, number];
  const w = 2 ** (z - r / 2);
  const h = 2 ** (z + r / 2);
  const res: number[][][] = [];
  for (let g = 0; g < G; g++) {
    const rows: number[][] = [];
    for (let p = 0; p < P; p++) {
      const k = (g * P + p) * 3;
      const sx = x + off[k]! * w;
      const sy = y + off[k + 1]! * h;
      const sz = z + off[k + 2]!;
      const logits = strides.map((s) => -((sz - Math.log2(s)) ** 2) / 2);
      const mx = Math.max(...logits);
      const ex = logits.map((l) => Math.exp(l - mx));
      const tot = ex.reduce((a, v) => a + v, 0);
      const acc = new Array<number>(C).fill(0);
      strides.forEach((s, l) => {
        const smp = jsBilinear(maps[l]!, b, g * C, C, sx / s - 0.5, sy / s - 0.5);
        for (let c = 0; c < C; c++) acc[c] = acc[c]! + (ex[l]! / tot) * smp[c]!;
      });
      rows.push(acc);
    }
    res.push(rows);
  }
  return res;
}

export function jsMatMul(a: number[][], b: number[][]): number[][] {
  return a.map((row) => b[0]!.map((_, j) => row.reduce((s, v, k) => s + v * b[k]![j]!, 0)));
}

/** Joint LN over a whole matrix (no affine) then ReLU. */
export function jsJointLnRelu(m: number[][]): number[][] {
  const cols = m[0]!.length;
  const flat = jsLayerNorm(m.flat());
  return m.map((_, i) => flat.slice(i * cols, (i + 1) * cols).map((v) => Math.max(0, v)));
}

/** Mixing for one query: xs [G][P_in][C], Mc [G] (C×C), Ms [G] (P_out×P_in) → flat (g, p_out, c). */
export function jsMixing(xs: number[][][], Mc: number[][][], Ms: number[][][]): number[] {
  const out: number[] = [];
  xs.forEach((x, g) => {
    const a = jsJointLnRelu(jsMatMul(x, Mc[g]!));
    const o = jsJointLnRelu(jsMatMul(Ms[g]!, a));
    out.push(...o.flat());
  });
  return out;
}

export const mat = (data: Arr, offset: number, rows: number, cols: number): number[][] =>
  Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => data[offset + i * cols + j]!));

export const add2 = (a: number[][], b: number[][]) => a.map((r, i) => r.map((v, j) => v + b[i]![j]!));

export type JsWeights = Map<string, Float32Array>;

export async function toJsWeights(w: WeightMap): Promise<JsWeights> {
  const m: JsWeights = new Map();
  for (const [k, t] of w) m.set(k, (await t.data()) as Float32Array);
  return m;
}

/** Generated M_c, M_s of one query from a generated vector (docs/model.md §3.3). */
export function jsSplit(params: number[], cfg: ModelConfig): { Mc: number[][][]; Ms: number[][][] } {
  const d = cfg.decoder;
  const { G, C, genPerGroup } = dims(d);
  const Mc: number[][][] = [];
  const Ms: number[][][] = [];
  for (let g = 0; g < G; g++) {
    Mc.push(mat(params, g * genPerGroup, C, C));
    Ms.push(mat(params, g * genPerGroup + C * C, d.pointsOut, d.pointsIn));
  }
  return { Mc, Ms };
}

/** LORS^A per-query materialised M_c, M_s (Eqs. 9–12 in the code's layout). */
export function jsLorsA(
  W: JsWeights,
  cfg: ModelConfig,
  stage: number,
  q: number[],
): { Mc: number[][][]; Ms: number[][][] } {
  const d = cfg.decoder;
  const { G, C, genOut } = dims(d);
  const r = cfg.lors!.rankA;
  const K = cfg.lors!.groupsA[stage]!;
  const s = `stages.${stage}.lorsA`;
  const sh = jsSplit(jsLinear(q, W.get('lorsA.shared.weight')!, W.get('lorsA.shared.bias')!, genOut), cfg);
  const E = jsLinear(q, W.get(`${s}.generator.weight`)!, W.get(`${s}.generator.bias`)!, 2 * G * K * r * r);
  const ml = W.get(`${s}.ml`)!,
    mr = W.get(`${s}.mr`)!,
    sl = W.get(`${s}.sl`)!,
    sr = W.get(`${s}.sr`)!;
  const Mc = sh.Mc.map((m) => m.map((row) => [...row]));
  const Ms = sh.Ms.map((m) => m.map((row) => [...row]));
  for (let g = 0; g < G; g++) {
    for (let k = 0; k < K; k++) {
      const t = g * K + k;
      const EM = mat(E, (0 * G * K + t) * r * r, r, r);
      const ES = mat(E, (1 * G * K + t) * r * r, r, r);
      Mc[g] = add2(Mc[g]!, jsMatMul(jsMatMul(mat(ml, t * C * r, C, r), EM), mat(mr, t * r * C, r, C)));
      Ms[g] = add2(
        Ms[g]!,
        jsMatMul(
          jsMatMul(mat(sl, t * d.pointsOut * r, d.pointsOut, r), ES),
          mat(sr, t * r * d.pointsIn, r, d.pointsIn),
        ),
      );
    }
  }
  return { Mc, Ms };
}

/** LORS^T explicit W_i = W_sh + Σ_k B_k A_k as a flat [dq, outIn] array. */
export function jsLorsTWeight(W: JsWeights, cfg: ModelConfig, stage: number): Float64Array {
  const dq = cfg.decoder.dQuery;
  const { outIn } = dims(cfg.decoder);
  const r = cfg.lors!.rankT;
  const K = cfg.lors!.groupsT[stage]!;
  const Wsh = W.get('lorsT.shared.weight')!;
  const Bw = W.get(`stages.${stage}.lorsT.B`)!;
  const Aw = W.get(`stages.${stage}.lorsT.A`)!;
  const out = Float64Array.from(Wsh);
  for (let k = 0; k < K; k++) {
    for (let i = 0; i < dq; i++) {
      for (let j = 0; j < outIn; j++) {
        let s = 0;
        for (let t = 0; t < r; t++) s += Bw[(k * dq + i) * r + t]! * Aw[(k * r + t) * outIn + j]!;
        out[i * outIn + j] = out[i * outIn + j]! + s;
      }
    }
  }
  return out;
}

/** Neck of the reference: raw NHWC levels → necked JsMaps. */
export function jsNeck(W: JsWeights, cfg: ModelConfig, levels: JsMap[]): JsMap[] {
  const d = cfg.decoder;
  const gamma = W.get('neck.norm.weight')!,
    beta = W.get('neck.norm.bias')!;
  const cpg = d.dFeat / d.neckGroups;
  return levels.map((lv, l) => {
    const Wc = W.get(`neck.convs.${l}.weight`)!,
      bc = W.get(`neck.convs.${l}.bias`)!;
    const HW = lv.H * lv.W;
    const y = new Float64Array(lv.B * HW * d.dFeat);
    for (let p = 0; p < lv.B * HW; p++) {
      const x = Array.from({ length: lv.Cn }, (_, c) => lv.data[p * lv.Cn + c]!);
      y.set(jsLinear(x, Wc, bc, d.dFeat), p * d.dFeat);
    }
    for (let b = 0; b < lv.B; b++) {
      for (let g = 0; g < d.neckGroups; g++) {
        let s = 0,
          s2 = 0;
        for (let p = 0; p < HW; p++) for (let c = g * cpg; c < (g + 1) * cpg; c++) s += y[(b * HW + p) * d.dFeat + c]!;
        const n = HW * cpg;
        const mean = s / n;
        for (let p = 0; p < HW; p++)
          for (let c = g * cpg; c < (g + 1) * cpg; c++) s2 += (y[(b * HW + p) * d.dFeat + c]! - mean) ** 2;
        const inv = 1 / Math.sqrt(s2 / n + 1e-5);
        for (let p = 0; p < HW; p++) {
          for (let c = g * cpg; c < (g + 1) * cpg; c++) {
            const i = (b * HW + p) * d.dFeat + c;
            y[i] = (y[i]! - mean) * inv * gamma[c]! + beta[c]!;
          }
        }
      }
    }
    return { data: y, B: lv.B, H: lv.H, W: lv.W, Cn: d.dFeat };
  });
}

/** One stage of the reference for all queries of image b. q: [L][dq], xyzr: [L][4]. */
export function jsStage(
  W: JsWeights,
  cfg: ModelConfig,
  i: number,
  maps: JsMap[],
  b: number,
  q: number[][],
  xyzr: number[][],
) {
  const d = cfg.decoder;
  const { G, C, genOut, offOut } = dims(d);
  const dq = d.dQuery;
  const L = q.length;
  const H = d.heads;
  const hd = dq / H;
  const s = `stages.${i}`;
  const w = (n: string) => W.get(`${s}.${n}`)!;
  // attention
  const boxes = xyzr.map(jsDecode);
  const x = q.map((row, l) => {
    const pe = jsPositionEmbedding(xyzr[l]!, dq);
    return row.map((v, c) => v + pe[c]!);
  });
  const qkv = x.map((row) => jsLinear(row, w('attn.inProj.weight'), w('attn.inProj.bias'), 3 * dq));
  const tau = w('iofTau');
  const merged = x.map(() => new Array<number>(dq).fill(0));
  for (let h = 0; h < H; h++) {
    for (let a = 0; a < L; a++) {
      const logits = Array.from({ length: L }, (_, j) => {
        let dot = 0;
        for (let c = 0; c < hd; c++) dot += qkv[a]![h * hd + c]! * qkv[j]![dq + h * hd + c]!;
        return dot / Math.sqrt(hd) + Math.log(jsIof(boxes[a]!, boxes[j]!) + 1e-7) * tau[h]!;
      });
      const mx = Math.max(...logits);
      const ex = logits.map((v) => Math.exp(v - mx));
      const tot = ex.reduce((p, v) => p + v, 0);
      for (let c = 0; c < hd; c++) {
        let acc = 0;
        for (let j = 0; j < L; j++) acc += (ex[j]! / tot) * qkv[j]![2 * dq + h * hd + c]!;
        merged[a]![h * hd + c] = acc;
      }
    }
  }
  let qs = x.map((row, l) => {
    const o = jsLinear(merged[l]!, w('attn.outProj.weight'), w('attn.outProj.bias'), dq);
    return jsLayerNorm(
      row.map((v, c) => v + o[c]!),
      w('attnNorm.weight'),
      w('attnNorm.bias'),
    );
  });
  // sampling + mixing
  const parts = VARIANTS[cfg.variant];
  const WT = parts.output === 'lorsT' ? jsLorsTWeight(W, cfg, i) : undefined;
  qs = qs.map((row, l) => {
    const off = jsLinear(row, w('sampling.offset.weight'), w('sampling.offset.bias'), offOut);
    const xs = jsSample(maps, d.strides, b, xyzr[l]!, off, G, d.pointsIn, C);
    const { Mc, Ms } =
      parts.generator === 'lorsA'
        ? jsLorsA(W, cfg, i, row)
        : jsSplit(jsLinear(row, w('mixing.generator.weight'), w('mixing.generator.bias'), genOut), cfg);
    const o = jsMixing(xs, Mc, Ms);
    const y = WT
      ? jsLinear(o, WT, w('lorsT.bias'), dq)
      : jsLinear(o, w('mixing.output.weight'), w('mixing.output.bias'), dq);
    const norm = WT ? 'lorsT.norm' : 'mixNorm';
    return jsLayerNorm(
      row.map((v, c) => v + y[c]!),
      w(`${norm}.weight`),
      w(`${norm}.bias`),
    );
  });
  // FFN
  qs = qs.map((row) => {
    const h1 = jsLinear(row, w('ffn.fc1.weight'), w('ffn.fc1.bias'), d.ffn).map((v) => Math.max(0, v));
    const h2 = jsLinear(h1, w('ffn.fc2.weight'), w('ffn.fc2.bias'), dq);
    return jsLayerNorm(
      row.map((v, c) => v + h2[c]!),
      w('ffnNorm.weight'),
      w('ffnNorm.bias'),
    );
  });
  const branch = (name: string, out: number) =>
    qs.map((row) => {
      const h1 = jsLayerNorm(
        jsLinear(row, w(`${name}.fc.weight`), w(`${name}.fc.bias`), dq),
        w(`${name}.norm.weight`),
        w(`${name}.norm.bias`),
      );
      return jsLinear(
        h1.map((v) => Math.max(0, v)),
        w(`${name}.out.weight`),
        w(`${name}.out.bias`),
        out,
      );
    });
  const logits = branch('cls', d.classes);
  const delta = branch('reg', 4);
  const refined = xyzr.map(([x0, y0, z, r], l) => {
    const dd = delta[l]!;
    return [x0! + dd[0]! * 2 ** z!, y0! + dd[1]! * 2 ** z!, z! + dd[2]!, r! + dd[3]!];
  });
  return { q: qs, xyzr: refined, logits, boxes: refined.map(jsDecode) };
}

/** The whole reference decoder: per stage, per image: { logits [L][classes], boxes [L][4] }. */
export function jsDecoder(W: JsWeights, cfg: ModelConfig, levels: JsMap[], imageSize: [number, number][]) {
  const d = cfg.decoder;
  const maps = jsNeck(W, cfg, levels);
  const content = W.get('queries.content')!;
  const q0 = Array.from({ length: d.queries }, (_, l) =>
    jsLayerNorm(Array.from(content.subarray(l * d.dQuery, (l + 1) * d.dQuery))),
  );
  const stages: { logits: number[][]; boxes: number[][] }[][] = [];
  const state = imageSize.map(([w, h]) => ({
    q: q0.map((r) => [...r]),
    xyzr: Array.from({ length: d.queries }, () => [w / 2, h / 2, Math.log2(Math.sqrt(w * h)), Math.log2(h / w)]),
  }));
  for (let i = 0; i < d.stages; i++) {
    const per: { logits: number[][]; boxes: number[][] }[] = [];
    state.forEach((st, b) => {
      const r = jsStage(W, cfg, i, maps, b, st.q, st.xyzr);
      st.q = r.q;
      st.xyzr = r.xyzr;
      per.push({ logits: r.logits, boxes: r.boxes });
    });
    stages.push(per);
  }
  return stages;
}

export async function toJsMap(t: tf.Tensor4D): Promise<JsMap> {
  const [B, H, W, Cn] = t.shape;
  return { data: await t.data(), B, H, W, Cn };
}

/** Max |a − b| / (atol + rtol·|b|) style check: returns the worst absolute error and the worst scaled error. */
export function maxErr(a: Arr, b: Arr): { abs: number; rel: number } {
  if (a.length !== b.length) throw new Error(`length mismatch ${a.length} vs ${b.length}`);
  let abs = 0,
    rel = 0;
  for (let i = 0; i < a.length; i++) {
    const e = Math.abs(a[i]! - b[i]!);
    abs = Math.max(abs, e);
    rel = Math.max(rel, e / (1 + Math.abs(b[i]!)));
  }
  return { abs, rel };
}
