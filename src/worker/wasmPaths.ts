/** Vite URLs of tfjs-backend-wasm's binaries (tfjs picks the threaded SIMD build in a cross-origin isolated page). */
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreadedSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';

/** Absolute URLs (relative ones would resolve against the worker script, not the page). */
export function wasmPaths(): Record<string, string> {
  const abs = (u: string) => new URL(u, self.location.href).href;
  return {
    'tfjs-backend-wasm.wasm': abs(wasmPlain),
    'tfjs-backend-wasm-simd.wasm': abs(wasmSimd),
    'tfjs-backend-wasm-threaded-simd.wasm': abs(wasmThreadedSimd),
  };
}
