import { useEffect, useState } from 'react';
import { controller } from '../app/controller';
import { useSettings, settingsStore } from '../state/settings';
import type { SelftestResult } from '../worker/protocol';
import { CompressionChart } from './CompressionChart';
import { Controls } from './Controls';
import { Footer } from './Footer';
import { Header } from './Header';
import { InputArea } from './InputArea';
import { Panel } from './Panel';
import { ParamsView } from './ParamsView';
import { StatusBar } from './StatusBar';

export function App() {
  const showNanodet = useSettings((s) => s.showNanodet);
  useEffect(() => {
    void controller.start(settingsStore.getState().backend);
    return settingsStore.subscribe((s, prev) => {
      if (s.rankA !== prev.rankA || s.rankT !== prev.rankT || s.groupsMode !== prev.groupsMode || s.groupsK !== prev.groupsK || s.lorsSource !== prev.lorsSource) {
        controller.rerunLors();
      }
      if (s.showNanodet && !prev.showNanodet) controller.ensureNanodet();
    });
  }, []);
  return (
    <div className="app">
      <Header />
      <StatusBar />
      <main>
        <InputArea />
        <Controls />
        <div className={`panels${showNanodet ? ' panels-3' : ''}`}>
          <Panel model="vanilla" />
          <Panel model="lors" />
          {showNanodet && <Panel model="nanodet" />}
        </div>
        <ParamsView />
        <CompressionChart />
      </main>
      <Footer />
    </div>
  );
}

/** JSON turns Infinity and NaN into null: keep them readable. */
function selftestJson(r: SelftestResult): string {
  return JSON.stringify(r, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v), 2);
}

/** `?selftest=1`: WebGPU vs wasm check of the building blocks, run in the worker (used by the e2e tests). */
export function SelftestApp() {
  const [state, setState] = useState<{ status: 'running' | 'done' | 'error'; result?: SelftestResult; error?: string }>({ status: 'running' });
  useEffect(() => {
    controller.selftest().then(
      (result) => setState({ status: 'done', result }),
      (e: unknown) => setState({ status: 'error', error: e instanceof Error ? e.message : String(e) }),
    );
  }, []);
  return (
    <div className="app">
      <h1>LORS Studio self-test: WebGPU vs wasm</h1>
      <StatusBar />
      <p data-testid="selftest-status" data-status={state.status}>{state.status}</p>
      {state.error && <p className="notice error" data-testid="error">{state.error}</p>}
      {state.result && (
        <table>
          <thead><tr><th>check</th><th>max |webgpu − wasm|</th><th>elements</th><th>non-finite (webgpu / wasm)</th><th>webgpu ms</th><th>wasm ms</th><th>tolerance</th><th>first mismatches</th></tr></thead>
          <tbody>
            {state.result.checks.map((c) => (
              <tr key={c.name} className={c.passed ? '' : 'fail'}><td>{c.name}</td><td>{c.maxAbsDiff.toExponential(2)}</td><td>{c.size}</td><td>{c.nonFiniteWebgpu} / {c.nonFiniteWasm}</td><td>{c.webgpuMs.toFixed(0)}</td><td>{c.wasmMs.toFixed(0)}</td><td>{Number.isFinite(c.tolerance) ? c.tolerance.toExponential(1) : 'reported only'}</td><td>{c.mismatches?.join('; ') ?? ''}</td></tr>
            ))}
          </tbody>
        </table>
      )}
      <pre data-testid="selftest">{state.result ? selftestJson(state.result) : ''}</pre>
    </div>
  );
}
