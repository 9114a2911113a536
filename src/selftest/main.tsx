/**
 * selftest.html: runs the model's building blocks on WebGPU and on wasm in a worker and shows the largest
 * differences (the e2e tests read it). A page of its own: the app's bundle never loads it.
 */
import { StrictMode, useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { TEST_ONLY_MARKER } from '../testing/reference';
import type { SelftestResult } from './checks';
import type { KernelReport } from './kernelCount';
import type { SelftestMessage } from './selftest.worker';
import '../ui/styles.css';

/** JSON turns Infinity and NaN into null: keep them readable. */
function selftestJson(r: SelftestResult): string {
  return JSON.stringify(r, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v), 2);
}

function SelftestApp() {
  const [state, setState] = useState<{
    status: 'running' | 'done' | 'error';
    message: string;
    result?: SelftestResult;
    kernels?: KernelReport;
  }>({
    status: 'running',
    message: 'Starting…',
  });
  useEffect(() => {
    const worker = new Worker(new URL('./selftest.worker.ts', import.meta.url), { type: 'module' });
    worker.onmessage = (ev: MessageEvent<SelftestMessage>) => {
      const m = ev.data;
      if (m.kind === 'status') setState((s) => ({ ...s, message: m.message }));
      else if (m.kind === 'done') setState({ status: 'done', message: 'Self-test done', result: m.result });
      else if (m.kind === 'kernels') setState({ status: 'done', message: 'Kernel count done', kernels: m.report });
      else setState({ status: 'error', message: m.message });
    };
    worker.onerror = (ev) =>
      setState({ status: 'error', message: ev.message || 'the self-test worker failed to start' });
    // ?kernels: count kernels per decoder forward instead (npm run bench -- --kernels); ?fused: only the fused checks.
    const params = new URLSearchParams(location.search);
    const mode = params.has('kernels') ? 'kernels' : params.has('fused') ? 'fused' : undefined;
    worker.postMessage({ base: new URL('./', location.href).href, mode, only: params.get('fused') || undefined });
    return () => worker.terminate();
  }, []);
  const r = state.result;
  return (
    <div className="app" data-marker={TEST_ONLY_MARKER}>
      <h1>LORS Studio self-test: WebGPU vs wasm</h1>
      <p className="muted" data-testid="status">
        {state.message}
      </p>
      <p data-testid="selftest-status" data-status={state.status}>
        {state.status}
      </p>
      {state.status === 'error' && (
        <p className="notice error" data-testid="error">
          {state.message}
        </p>
      )}
      {r && (
        <table>
          <thead>
            <tr>
              <th>check</th>
              <th>max |webgpu − wasm|</th>
              <th>elements</th>
              <th>non-finite (webgpu / wasm)</th>
              <th>webgpu ms</th>
              <th>wasm ms</th>
              <th>tolerance</th>
              <th>first mismatches</th>
            </tr>
          </thead>
          <tbody>
            {r.checks.map((c) => (
              <tr key={c.name} className={c.passed ? '' : 'fail'}>
                <td>{c.name}</td>
                <td>{c.maxAbsDiff.toExponential(2)}</td>
                <td>{c.size}</td>
                <td>
                  {c.nonFiniteWebgpu} / {c.nonFiniteWasm}
                </td>
                <td>{c.webgpuMs.toFixed(0)}</td>
                <td>{c.wasmMs.toFixed(0)}</td>
                <td>{Number.isFinite(c.tolerance) ? c.tolerance.toExponential(1) : 'reported only'}</td>
                <td>{c.mismatches?.join('; ') ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <pre data-testid="selftest">{r ? selftestJson(r) : ''}</pre>
      {state.kernels && <pre data-testid="kernels">{JSON.stringify(state.kernels, null, 2)}</pre>}
    </div>
  );
}

const root = document.getElementById('root');
if (!root) throw new Error('#root is missing from selftest.html');
createRoot(root).render(
  <StrictMode>
    <SelftestApp />
  </StrictMode>,
);
