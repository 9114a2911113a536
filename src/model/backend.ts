/**
 * tfjs backend selection: webgpu → wasm → cpu, with a human-readable reason whenever the preferred backend could
 * not be used. Platform-free: in Node there is no `navigator.gpu`, so 'auto' lands on wasm.
 *
 * Importing the two backend packages registers them (the webgpu package registers itself only where
 * `navigator.gpu` exists).
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';
import { getThreadsCount, setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import type { BackendName } from './types';

export interface BackendChoice {
  backend: BackendName;
  /** Set when the first choice was not available: why, and what is used instead. */
  fallbackReason?: string;
}

export interface BackendOptions {
  /** Where the wasm binaries are (the app passes Vite asset URLs). Left alone when not given. */
  wasmPaths?: string | Record<string, string>;
  /**
   * Threads of the wasm backend (the app: navigator.hardwareConcurrency). tfjs runs its threaded build only where
   * SharedArrayBuffer can be posted (a cross-origin isolated page, not Node), else the single-threaded one and this
   * is ignored. Only effective before the wasm backend first initialises.
   */
  wasmThreads?: number;
}

const ORDER: BackendName[] = ['webgpu', 'wasm', 'cpu'];

const LABEL: Record<BackendName, string> = {
  webgpu: 'WebGPU',
  wasm: 'WebAssembly (wasm)',
  cpu: 'plain JavaScript (cpu)',
};

let wasmPathsSet: string | undefined;

/** Why a backend cannot be used here, or null when it is worth trying. */
async function precheck(name: BackendName): Promise<string | null> {
  if (name === 'webgpu') {
    const nav = (globalThis as { navigator?: { gpu?: { requestAdapter(): Promise<unknown> } } }).navigator;
    if (!nav || !nav.gpu) return 'WebGPU is not available in this browser';
    try {
      const adapter = await nav.gpu.requestAdapter();
      if (!adapter) return 'WebGPU is present but no GPU adapter was found (blocked or unsupported hardware)';
    } catch (e) {
      return `WebGPU adapter request failed (${e instanceof Error ? e.message : String(e)})`;
    }
  }
  if (!tf.findBackendFactory(name)) return `the ${LABEL[name]} backend is not registered`;
  return null;
}

async function trySet(name: BackendName, wasmThreads?: number): Promise<string | null> {
  const why = await precheck(name);
  if (why) return why;
  const restore = name === 'wasm' && wasmThreads !== undefined ? presentCores(2 * wasmThreads) : () => {};
  try {
    const ok = await tf.setBackend(name);
    if (!ok) return `the ${LABEL[name]} backend failed to initialise`;
    await tf.ready();
    return null;
  } catch (e) {
    return `the ${LABEL[name]} backend failed to initialise (${e instanceof Error ? e.message : String(e)})`;
  } finally {
    restore();
  }
}

/**
 * tfjs-backend-wasm 4.22 caps its thread pool at navigator.hardwareConcurrency / 2, read once as its module starts
 * (backend.cc: it assumes two hyper-threads per core), whatever setThreadsCount asks: on a 2-vCPU machine that is
 * one thread. While it starts, navigator reports `cores` (twice the threads asked for), so the pool gets them; the
 * real value is back right after. Returns the function that puts it back (a no-op where there is no navigator).
 */
function presentCores(cores: number): () => void {
  const nav = (globalThis as { navigator?: object }).navigator;
  if (!nav || Object.prototype.hasOwnProperty.call(nav, 'hardwareConcurrency')) return () => {};
  try {
    Object.defineProperty(nav, 'hardwareConcurrency', { value: cores, configurable: true });
  } catch {
    return () => {};
  }
  return () => {
    delete (nav as { hardwareConcurrency?: number }).hardwareConcurrency;
  };
}

/**
 * Picks and activates a tfjs backend. `preferred` is tried first (for 'auto': webgpu), then the rest of
 * webgpu → wasm → cpu. Throws only if not even the cpu backend works.
 */
export async function initBackend(
  preferred: BackendName | 'auto' = 'auto',
  opts: BackendOptions = {},
): Promise<BackendChoice> {
  if (preferred !== 'auto' && !ORDER.includes(preferred)) {
    throw new Error(`unknown backend "${String(preferred)}" (expected auto, ${ORDER.join(', ')})`);
  }
  if (opts.wasmPaths !== undefined) {
    const key = typeof opts.wasmPaths === 'string' ? opts.wasmPaths : JSON.stringify(opts.wasmPaths);
    if (key !== wasmPathsSet) {
      // Only effective before the wasm backend first initialises.
      setWasmPaths(opts.wasmPaths as string);
      wasmPathsSet = key;
    }
  }
  if (opts.wasmThreads !== undefined) {
    if (!Number.isInteger(opts.wasmThreads) || opts.wasmThreads < 1) {
      throw new Error(`wasmThreads must be an integer ≥ 1, got ${opts.wasmThreads}`);
    }
    setThreadsCount(opts.wasmThreads);
  }
  const first: BackendName = preferred === 'auto' ? 'webgpu' : preferred;
  const order = [first, ...ORDER.filter((b) => b !== first)];
  const reasons: string[] = [];
  for (const name of order) {
    const why = await trySet(name, opts.wasmThreads);
    if (why === null) {
      return reasons.length ? { backend: name, fallbackReason: `${reasons[0]}; using ${name}` } : { backend: name };
    }
    reasons.push(why);
  }
  throw new Error(`no tfjs backend could be initialised: ${reasons.join('; ')}`);
}

/** Threads the wasm backend runs on (1: the single-threaded build), or null while wasm is not the active backend. */
export function wasmThreadsInUse(): number | null {
  if (tf.getBackend() !== 'wasm') return null;
  try {
    return getThreadsCount();
  } catch {
    return null;
  }
}
