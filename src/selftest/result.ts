/** What the self-test page reports: one entry per check, WebGPU against wasm or the fused path against the ops. */
export interface SelftestCheck {
  name: string;
  maxAbsDiff: number;
  /** Largest accepted maxAbsDiff (Infinity: reported only). */
  tolerance: number;
  passed: boolean;
  /** Elements compared. */
  size: number;
  webgpuMs: number;
  wasmMs: number;
  /** Largest |value| on wasm (the scale the difference is relative to). */
  maxAbs: number;
  /** NaN/±Infinity values on each backend. */
  nonFiniteWebgpu: number;
  nonFiniteWasm: number;
  /** The first segments (stage, logits/boxes) above the tolerance. */
  mismatches?: string[];
}

export interface SelftestResult {
  backends: string[];
  checks: SelftestCheck[];
  maxAbsDiff: number;
  passed: boolean;
}
