import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { jsMixing, mat, maxErr, rng, uniformArray } from '../../../testing/reference';
import { wasmKernels, type HostMap, type HostPoints, type MixingDims } from './kernels';

const rootDir = join(__dirname, '../../../..');

/** Maps of B·G rows [Hp, Wp, C] per level, and N = n·P_in points, some outside the maps. */
function inputs(seed: number, levels: number[], C: number, rows: number, N: number) {
  const rand = rng(seed);
  const maps: HostMap[] = levels.map((h, l) => ({
    data: uniformArray(rows * (h + 2) * (h + 2) * C, -2, 2, rand),
    Hp: h + 2,
    Wp: h + 2,
    stride: 8 << l,
  }));
  const xy = uniformArray(2 * N, -40, 8 * levels[0]! + 40, rand);
  const weights = uniformArray(N * levels.length, 0, 1, rand);
  const image = Int32Array.from({ length: N }, () => Math.floor(rand() * rows));
  return { maps, points: { xy, weights, image } as HostPoints };
}

function reference(sampled: Float32Array, gen: Float32Array, n: number, { Pin, Pout, C }: MixingDims): number[] {
  const per = gen.length / n;
  const out: number[] = [];
  for (let j = 0; j < n; j++) {
    const x = mat(sampled, j * Pin * C, Pin, C);
    const Mc = mat(gen, j * per, C, C);
    const Ms = mat(gen, j * per + C * C, Pout, Pin);
    out.push(...jsMixing([x], [Mc], [Ms]));
  }
  return out;
}

describe('wasm kernels', () => {
  it('the committed module is what kernels.c builds to (scripts/build-wasm.sh)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'build-wasm-'));
    try {
      const out = join(dir, 'kernelsWasm.ts');
      execFileSync('bash', [join(rootDir, 'scripts/build-wasm.sh'), out], { stdio: 'pipe' });
      const [built, committed] = [readFileSync(out, 'utf8'), readFileSync(join(__dirname, 'kernelsWasm.ts'), 'utf8')];
      // Another clang builds other (equally valid) bytes: say so rather than show two base64 strings.
      const header = (t: string) => t.split('\n')[0];
      expect(header(built), 'kernelsWasm.ts was built by another clang than this machine has').toBe(header(committed));
      expect(built).toBe(committed);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each([
    ['web sizes', { Pin: 32, Pout: 64, C: 64, eps: 1e-5 }, 12],
    ['sizes that leave remainders of the 4 × 8 tiles and the 4-wide vectors', { Pin: 5, Pout: 7, C: 12, eps: 1e-5 }, 9],
  ] as const)('mixes the samples like the plain-JS ACM/ASM: %s', (_, dims, n) => {
    const kernels = wasmKernels()!;
    expect(kernels).not.toBeNull();
    const { maps, points } = inputs(3, [12, 6, 3], dims.C, 4, n * dims.Pin);
    const rand = rng(4);
    const gen = uniformArray(n * (dims.C * dims.C + dims.Pout * dims.Pin + 3), -0.5, 0.5, rand); // + 3: a wider stride
    const sampled = kernels.sample(maps, dims.C, points);
    expect(sampled.some((v) => v === 0) && sampled.some((v) => v !== 0)).toBe(true); // points outside and inside
    const got = kernels.sampleAndMix(maps, points, gen, dims);
    expect(got.length).toBe(n * dims.Pout * dims.C);
    expect(maxErr(got, reference(sampled, gen, n, dims)).abs).toBeLessThan(1e-4);
  });

  it('keeps results apart across calls with other maps and growing sizes', () => {
    const kernels = wasmKernels()!;
    const dims = { Pin: 8, Pout: 8, C: 16, eps: 1e-5 };
    const a = inputs(5, [10, 5, 3], dims.C, 2, 4 * dims.Pin);
    const b = inputs(6, [40, 20, 10], dims.C, 2, 64 * dims.Pin); // larger: the memory grows
    const genA = uniformArray(4 * (dims.C * dims.C + dims.Pout * dims.Pin), -0.5, 0.5, rng(7));
    const genB = uniformArray(64 * (dims.C * dims.C + dims.Pout * dims.Pin), -0.5, 0.5, rng(8));
    const first = kernels.sampleAndMix(a.maps, a.points, genA, dims).slice();
    const other = kernels.sampleAndMix(b.maps, b.points, genB, dims).slice();
    expect(maxErr(other, reference(kernels.sample(b.maps, dims.C, b.points), genB, 64, dims)).abs).toBeLessThan(1e-4);
    expect(kernels.sampleAndMix(a.maps, a.points, genA, dims)).toEqual(first);
    // other maps (another array) are placed again, not taken for the ones in memory
    const changed = { ...a.maps[0]!, data: a.maps[0]!.data.map((v) => v + 1) };
    const moved = kernels.sample([changed, a.maps[1]!, a.maps[2]!], dims.C, a.points);
    expect(moved).not.toEqual(kernels.sample(a.maps, dims.C, a.points));
  });

  it.each([
    ['web sizes', { B: 1, L: 100, H: 8, hd: 16 }],
    ['two images, head widths that leave remainders of the 4-wide vectors', { B: 2, L: 7, H: 3, hd: 6 }],
  ] as const)('attends like plain JS (scores, bias, softmax, weighted sum, heads merged): %s', (_, dims) => {
    const { B, L, H, hd } = dims;
    const rand = rng(31);
    const qkv = uniformArray(B * L * 3 * H * hd, -2, 2, rand);
    const logIof = uniformArray(B * L * L, -16, 0, rand);
    const tau = uniformArray(H, 0, 2, rand);
    const scale = 1 / Math.sqrt(hd);
    const got = wasmKernels()!.attend(qkv, logIof, tau, dims, scale);
    const want: number[] = [];
    const at = (b: number, l: number, part: number, h: number, d: number) =>
      qkv[(b * L + l) * 3 * H * hd + part * H * hd + h * hd + d]!;
    for (let b = 0; b < B; b++)
      for (let i = 0; i < L; i++)
        for (let h = 0; h < H; h++) {
          const s = Array.from({ length: L }, (_, j) => {
            let dot = 0;
            for (let d = 0; d < hd; d++) dot += at(b, i, 0, h, d) * scale * at(b, j, 1, h, d);
            return dot + logIof[(b * L + i) * L + j]! * tau[h]!;
          });
          const max = Math.max(...s);
          const e = s.map((v) => Math.exp(v - max));
          const sum = e.reduce((x, y) => x + y, 0);
          for (let d = 0; d < hd; d++) want.push(e.reduce((acc, p, j) => acc + (p / sum) * at(b, j, 2, h, d), 0));
        }
    expect(maxErr(got, want).abs).toBeLessThan(1e-5);
    expect(() => wasmKernels()!.attend(qkv, logIof, tau, { ...dims, L: L + 1 }, scale)).toThrow(/do not fit/);
  });

  it('runs a Linear like plain JS, summed as matMul then add (sizes that leave remainders of the tiles)', () => {
    const kernels = wasmKernels()!;
    const rand = rng(41);
    const [M, K, N] = [7, 5, 13];
    const x = uniformArray(M * K, -1, 1, rand);
    const W = uniformArray(K * N, -1, 1, rand);
    const b = uniformArray(N, -1, 1, rand);
    const owner = { isDisposed: false };
    let reads = 0;
    const l = { owner, weight: () => (reads++, W), bias: () => b, K, N };
    const want: number[] = [];
    for (let i = 0; i < M; i++)
      for (let j = 0; j < N; j++) {
        let acc = 0;
        for (let k = 0; k < K; k++) acc = Math.fround(acc + Math.fround(x[i * K + k]! * W[k * N + j]!));
        want.push(Math.fround(acc + b[j]!));
      }
    expect(Array.from(kernels.linear(x, l))).toEqual(want);
    expect(Array.from(kernels.linear(x, l))).toEqual(want);
    expect(reads).toBe(1); // packed once, kept while its owner lives
    expect(() => kernels.linear(x.subarray(1), l)).toThrow(/not rows of 5/);
  });

  it('packs a new weight into the memory of one whose owner was disposed', () => {
    const kernels = wasmKernels()!;
    const [K, N] = [64, 300];
    const make = (seed: number) => {
      const W = uniformArray(K * N, -1, 1, rng(seed));
      return { owner: { isDisposed: false }, weight: () => W, bias: () => new Float32Array(N), K, N, W };
    };
    const x = uniformArray(2 * K, -1, 1, rng(43));
    const slots = (kernels as unknown as { slots: { owner: object; at: number }[] }).slots;
    const first = make(44);
    kernels.linear(x, first);
    const at = slots.find((s) => s.owner === first.owner)!.at;
    const count = slots.length;
    first.owner.isDisposed = true;
    const second = make(45);
    const y = kernels.linear(x, second);
    expect(slots.length).toBe(count);
    expect(slots.find((s) => s.owner === second.owner)?.at).toBe(at);
    expect(y[0]).toBeCloseTo(
      Array.from({ length: K }, (_, k) => x[k]! * second.W[k * N]!).reduce((a, v) => a + v),
      4,
    );
  });

  it('rejects points and parameters that do not make query groups', () => {
    const kernels = wasmKernels()!;
    const { maps, points } = inputs(9, [4, 2, 1], 4, 1, 10);
    expect(() =>
      kernels.sampleAndMix(maps, points, new Float32Array(100), { Pin: 3, Pout: 2, C: 4, eps: 1e-5 }),
    ).toThrow(/query groups of 3 points/);
  });
});
