import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { patchThreadedFactory } from './wasmThreadsPlugin';

const FACTORY = 'node_modules/@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js';

describe('patchThreadedFactory', () => {
  it('leaves the installed tfjs-wasm factory closing over nothing: no _scriptDir inside the function it sends', () => {
    const src = readFileSync(FACTORY, 'utf8');
    expect(src.slice(src.indexOf('return ('))).toMatch(/\b_scriptDir\b/);
    const out = patchThreadedFactory(src);
    expect(out.slice(out.indexOf('return ('))).not.toMatch(/\b_scriptDir\b/);
    expect(out).toContain('"urlOrBlob":Module["mainScriptUrlOrBlob"],');
  });

  it('refuses a factory it was not written for', () => {
    expect(() => patchThreadedFactory('var X = (() => { return (function(m){ return m; }); })();')).toThrow(/once/);
  });
});
