/**
 * The backend: a small badge (the backend in use; a details popover says why WebGPU is not in use, when it is
 * not) and the choice, where "cpu" asks first.
 */
import { useState } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { useModels } from '../state/modelStatus';
import { BACKEND_CHOICES, settingsStore, useSettings, type BackendChoiceName } from '../state/settings';

const LABEL: Record<string, string> = {
  webgpu: 'WebGPU',
  wasm: 'wasm',
  cpu: 'cpu',
  auto: 'auto (WebGPU → wasm → cpu)',
};
/** How much slower the plain-JavaScript backend is than wasm (measured load and detection on this app). */
export const CPU_SLOWDOWN = '~40×';

export function BackendChoice() {
  const { backend, fallbackReason, webgpuAvailable } = useModels(
    useShallow((s) => ({ backend: s.backend, fallbackReason: s.fallbackReason, webgpuAvailable: s.webgpuAvailable })),
  );
  const choice = useSettings((s) => s.backend);
  const [asking, setAsking] = useState(false);
  const showNotice =
    backend !== null && backend !== 'webgpu' && (choice === 'auto' || choice === 'webgpu' || !webgpuAvailable);
  const choose = (b: BackendChoiceName) => {
    if (b === 'cpu' && choice !== 'cpu') setAsking(true);
    else settingsStore.getState().setBackend(b);
  };
  return (
    <div className="header-backend">
      <details className={`popover backend-info${showNotice ? ' backend-info-warn' : ''}`}>
        <summary aria-label={`Backend: ${backend ? LABEL[backend] : 'starting'}${showNotice ? ' (details)' : ''}`}>
          <span className="muted">Backend</span>{' '}
          <span className={`badge${showNotice ? ' badge-warn' : ''}`} data-testid="backend">
            {backend ? LABEL[backend] : '…'}
          </span>
          {showNotice && <span aria-hidden="true"> ⓘ</span>}
        </summary>
        <div className="popover-body">
          {showNotice ? (
            <p data-testid="backend-notice" role="status">
              {!webgpuAvailable ? 'WebGPU is not available in this browser' : 'WebGPU is not in use'}: running on the{' '}
              <strong>{backend === 'wasm' ? 'WebAssembly (wasm, SIMD)' : 'plain JavaScript (cpu)'}</strong> backend
              instead{fallbackReason ? ` (${fallbackReason})` : ''}. Results are the same; it is slower.
            </p>
          ) : (
            <p>
              The models run {backend ? `on ${LABEL[backend]}` : 'once loaded'} in a Web Worker of this tab; nothing is
              uploaded.
            </p>
          )}
        </div>
      </details>
      <label className="field">
        <span>Use backend</span>
        <select
          data-testid="backend-select"
          value={asking ? 'cpu' : choice}
          onChange={(e) => choose(e.target.value as BackendChoiceName)}
        >
          {BACKEND_CHOICES.map((b) => (
            <option key={b} value={b}>
              {LABEL[b]}
            </option>
          ))}
        </select>
      </label>
      {asking && (
        <div className="confirm" role="alertdialog" aria-labelledby="cpu-confirm-text" data-testid="cpu-confirm">
          <p id="cpu-confirm-text">
            The cpu backend is <strong>{CPU_SLOWDOWN} slower</strong> than wasm: loading the models and each photo take
            minutes, and the results do not change meanwhile. Switch to cpu?
          </p>
          <div className="confirm-buttons">
            <button
              type="button"
              data-testid="cpu-confirm-yes"
              onClick={() => {
                setAsking(false);
                settingsStore.getState().setBackend('cpu');
              }}
            >
              Switch to cpu
            </button>
            <button type="button" data-testid="cpu-confirm-no" autoFocus onClick={() => setAsking(false)}>
              Cancel
            </button>
          </div>
        </div>
      )}
    </div>
  );
}
