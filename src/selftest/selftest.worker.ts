/// <reference lib="webworker" />
/** The self-test page's worker: runs the WebGPU-vs-wasm checks once and posts the result. */
import { wasmPaths } from '../worker/wasmPaths';
import { runSelftest, type SelftestResult } from './checks';

declare const self: DedicatedWorkerGlobalScope;

export type SelftestMessage =
  | { kind: 'status'; message: string }
  | { kind: 'done'; result: SelftestResult }
  | { kind: 'error'; message: string };

const post = (m: SelftestMessage) => self.postMessage(m);

self.onmessage = (ev: MessageEvent<{ base: string }>) => {
  runSelftest(ev.data.base, wasmPaths(), (message) => post({ kind: 'status', message })).then(
    (result) => post({ kind: 'done', result }),
    (e: unknown) => post({ kind: 'error', message: e instanceof Error ? e.message : String(e) }),
  );
};
