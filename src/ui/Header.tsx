import { BACKEND_CHOICES, type BackendChoiceName } from '../state/backendParam';
import { useModels } from '../state/modelStatus';
import { settingsStore, useSettings } from '../state/settings';

const LABEL: Record<string, string> = {
  webgpu: 'WebGPU',
  wasm: 'wasm',
  cpu: 'cpu',
  auto: 'auto (WebGPU → wasm → cpu)',
};

export function Header() {
  const backend = useModels((s) => s.backend);
  const fallbackReason = useModels((s) => s.fallbackReason);
  const webgpuAvailable = useModels((s) => s.webgpuAvailable);
  const choice = useSettings((s) => s.backend);
  const showNotice =
    backend !== null && backend !== 'webgpu' && (choice === 'auto' || choice === 'webgpu' || !webgpuAvailable);
  return (
    <header className="header">
      <div className="header-text">
        <h1>LORS Studio</h1>
        <p className="tagline">
          Vanilla <strong>AdaMixer</strong> and AdaMixer + <strong>LORS</strong> detect side by side in your browser:
          LORS's six stacked decoder stages share one set of weights plus small low-rank private parts (
          <a href="https://arxiv.org/abs/2403.04303" target="_blank" rel="noreferrer">
            LORS: Low-rank Residual Structure for Parameter-Efficient Network Stacking, CVPR 2024
          </a>
          ).
        </p>
      </div>
      <div className="header-backend">
        <div>
          Backend:{' '}
          <span className="badge" data-testid="backend">
            {backend ? LABEL[backend] : '…'}
          </span>
        </div>
        <label className="field">
          <span>Use backend</span>
          <select
            data-testid="backend-select"
            value={choice}
            onChange={(e) => settingsStore.getState().setBackend(e.target.value as BackendChoiceName)}
          >
            {BACKEND_CHOICES.map((b) => (
              <option key={b} value={b}>
                {LABEL[b]}
              </option>
            ))}
          </select>
        </label>
      </div>
      {showNotice && (
        <p className="notice warn" data-testid="backend-notice" role="status">
          {!webgpuAvailable ? 'WebGPU is not available in this browser' : 'WebGPU is not in use'}: running on the{' '}
          <strong>{backend === 'wasm' ? 'WebAssembly (wasm, SIMD)' : 'plain JavaScript (cpu)'}</strong> backend instead
          {fallbackReason ? ` (${fallbackReason})` : ''}. Results are the same; it is slower.
        </p>
      )}
    </header>
  );
}
