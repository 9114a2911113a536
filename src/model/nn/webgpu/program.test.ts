import { describe, expect, it } from 'vitest';
import { f32, makeProgram, MAX_PROGRAM_INPUTS, pow2, reduceSumSnippet } from './program';

describe('custom WebGPU program helpers', () => {
  it('f32 writes literals that round to the same float32', () => {
    for (const x of [1, -0.5, Math.LN2, 1e-5, 1e-7, 1 / 3, 312, Math.log2(10000) / 7]) {
      const s = f32(x);
      expect(s).toMatch(/^f32\(-?[0-9.]+(e[-+]?[0-9]+)?\)$/);
      expect(Math.fround(Number(s.slice(4, -1)))).toBe(Math.fround(x));
    }
    expect(() => f32(Infinity)).toThrow(/not finite/);
  });

  it('makeProgram refuses more inputs than storage buffers, keys the shader by name and sizes', () => {
    const spec = {
      name: 'demo',
      key: '3_4',
      inputs: ['A'],
      outputShape: [3, 4],
      threads: 12,
      workgroupSize: 64,
      code: 'fn main(index : i32) {}',
    };
    const p = makeProgram(spec);
    expect(p.shaderKey).toBe('demo_3_4');
    expect(p.dispatch).toEqual([1, 1, 1]);
    expect(p.workgroupSize).toEqual([64, 1, 1]);
    expect(p.getUserCode()).toContain('_ = uniforms.NAN;'); // the uniforms binding must stay in the auto layout
    expect(() => makeProgram({ ...spec, code: 'fn other() {}' })).toThrow(/must define/);
    const many = Array.from({ length: MAX_PROGRAM_INPUTS + 1 }, (_, i) => `X${i}`);
    expect(() => makeProgram({ ...spec, inputs: many })).toThrow(/8 inputs, at most 7/);
  });

  it('pow2 and the reduction snippet', () => {
    expect([pow2(1), pow2(32), pow2(33), pow2(128), pow2(200), pow2(5000)]).toEqual([32, 32, 64, 128, 256, 256]);
    expect(reduceSumSnippet(64)).toContain('array<f32, 64>');
    expect(() => reduceSumSnippet(48)).toThrow(/not a power of two/);
  });
});
