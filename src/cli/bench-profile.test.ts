import { describe, expect, it } from 'vitest';
import { makeConfig } from '../model/config';
import { minKernelTimes, partOf, type KernelRecord } from './bench-profile';

const k = (name: string, ms: number, a: number[] = [], b: number[] = []): KernelRecord => ({
  name,
  inputShapes: [a, b],
  outputShapes: [],
  kernelTimeMs: ms,
});

describe('bench --profile', () => {
  it("keeps each kernel's minimum time over the profiled forwards", () => {
    const got = minKernelTimes([
      [k('Add', 3), k('Mean', 1)],
      [k('Add', 1), k('Mean', 9)],
      [k('Add', 2), { ...k('Mean', 0), kernelTimeMs: { error: 'no timer' } }],
    ]);
    expect(got.map((x) => [x.name, x.kernelTimeMs])).toEqual([
      ['Add', 1],
      ['Mean', 1],
    ]);
    expect(() => minKernelTimes([[k('Add', 1)], [k('Mean', 1)]])).toThrow(/kernel 0 is Mean/);
    expect(() => minKernelTimes([])).toThrow(/no profiles/);
  });

  it('names the parts of the web stage by operand widths', () => {
    const cfg = makeConfig('web', 'vanilla');
    expect(partOf(k('BatchMatMul', 1, [100, 128], [128, 12288]), cfg)).toBe('generator');
    expect(partOf(k('BatchMatMul', 1, [100, 8192], [8192, 128]), cfg)).toBe('output projection');
    expect(partOf(k('CropAndResize', 1), cfg)).toBe('sampling');
    expect(partOf(k('Transpose', 1), cfg)).toBe('other: Transpose');
  });
});
