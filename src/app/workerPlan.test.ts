import { describe, expect, it } from 'vitest';
import { workerPlan } from './workerPlan';

describe('workerPlan', () => {
  it('one worker on WebGPU (chosen, or auto where the browser has it), with every core for wasm fallback', () => {
    expect(workerPlan('webgpu', 8, true)).toEqual({ split: false, wasmThreads: 8 });
    expect(workerPlan('auto', 8, true)).toEqual({ split: false, wasmThreads: 8 });
  });

  it('two workers on wasm and cpu (and auto without WebGPU) from 2 cores, each on half of them', () => {
    expect(workerPlan('wasm', 2, true)).toEqual({ split: true, wasmThreads: 1 });
    expect(workerPlan('cpu', 2, false)).toEqual({ split: true, wasmThreads: 1 });
    expect(workerPlan('auto', 8, false)).toEqual({ split: true, wasmThreads: 4 });
    expect(workerPlan('wasm', 5, false)).toEqual({ split: true, wasmThreads: 2 });
  });

  it('one single-threaded worker on one core or an unknown count', () => {
    expect(workerPlan('wasm', 1, false)).toEqual({ split: false, wasmThreads: 1 });
    expect(workerPlan('wasm', 0, false)).toEqual({ split: false, wasmThreads: 1 });
    expect(workerPlan('wasm', Number.NaN, false)).toEqual({ split: false, wasmThreads: 1 });
  });
});
