/**
 * The Vite plugin that lets tfjs-backend-wasm's threaded build run from a minified bundle.
 *
 * tfjs starts each pthread worker by sending it the source of the Emscripten factory
 * (`WasmBackendModuleThreadedSimd.toString()`, tfjs-backend-wasm 4.22 backend_wasm.js), which the worker evaluates on
 * its own. In the published file that function refers to one variable of the scope around it, `_scriptDir`, only
 * behind `typeof _scriptDir !== "undefined"` guards, so the copy works. The minifier sees that the outer variable is
 * declared, renames it and drops the guards; in the worker the name is then undefined, every pthread worker throws
 * `ReferenceError` at start, and the backend waits for them forever (the "threaded build hangs in a production
 * bundle"). This plugin removes those references before the minifier runs; the factory then closes over nothing.
 */
import type { Plugin } from 'vite';

const FACTORY = /tfjs-backend-wasm[\\/]wasm-out[\\/]tfjs-backend-wasm-threaded-simd\.js$/;

/** Each use of the outer `_scriptDir` inside the factory, and what replaces it (in a worker `_scriptDir` is undefined). */
const EDITS: [string, string][] = [
  ['if(typeof _scriptDir !== "undefined" && _scriptDir){scriptDirectory=_scriptDir}', ''],
  ['Module["mainScriptUrlOrBlob"]||_scriptDir', 'Module["mainScriptUrlOrBlob"]'],
];

/** The factory's source with the edits applied; throws when the source is not the one the edits were written for. */
export function patchThreadedFactory(code: string): string {
  let out = code;
  for (const [from, to] of EDITS) {
    const n = out.split(from).length - 1;
    if (n !== 1) throw new Error(`wasm threads plugin: expected "${from}" once in the threaded factory, found ${n}`);
    out = out.replace(from, to);
  }
  const body = out.slice(out.indexOf('return ('));
  if (/\b_scriptDir\b/.test(body)) throw new Error('wasm threads plugin: the factory still refers to _scriptDir');
  return out;
}

export function wasmThreadsPlugin(): Plugin {
  return {
    name: 'lors-wasm-threads',
    enforce: 'pre',
    transform(code, id) {
      if (!FACTORY.test(id.split('?')[0]!)) return null;
      return { code: patchThreadedFactory(code), map: null };
    },
  };
}
