import { controller } from '../app/controller';
import { settingsStore } from '../state/settings';
import { formatBytes } from './format';
import { useModels } from '../state/modelStatus';
import { useSession } from '../state/session';

export function StatusBar() {
  const phase = useModels((s) => s.phase);
  const message = useModels((s) => s.message);
  const progress = useModels((s) => s.progress);
  const busy = useSession((s) => s.busy);
  const backboneMs = useSession((s) => s.backboneMs);
  const entries = Object.entries(progress);
  const decoders = useModels((s) => s.decoders);
  const failed = Object.entries(decoders)
    .filter(([, d]) => d?.failed)
    .map(([n]) => n);
  return (
    <section className={`status status-${phase}`} aria-live="polite">
      <p data-testid="status" data-phase={phase} data-busy={busy}>
        {phase === 'ready' ? (busy ? 'Detecting…' : 'Ready') : message}
        {phase === 'ready' && failed.length > 0 && (
          <span className="status-warn" data-testid="status-failed">
            {' '}
            — the {failed.join(' and ')} decoder{failed.length > 1 ? 's' : ''} could not load{' '}
            {failed.length > 1 ? 'their' : 'its'} weights (see the panel)
          </span>
        )}
        {phase === 'ready' && backboneMs !== null && (
          <span className="muted">
            {' '}
            · NanoDet backbone <span data-testid="latency-backbone">{backboneMs.toFixed(1)}</span> ms (shared by all
            panels)
          </span>
        )}
      </p>
      {phase === 'error' && (
        <button
          type="button"
          data-testid="retry-init"
          onClick={() => void controller.start(settingsStore.getState().backend)}
        >
          Retry loading the models
        </button>
      )}
      {(phase === 'loading' || phase === 'starting') && entries.length > 0 && (
        <div className="progress-list">
          {entries.map(([model, p]) => (
            <label key={model} className="progress-row">
              <span>{model}</span>
              <progress max={p.total || 1} value={Math.min(p.loaded, p.total || 1)} data-testid={`progress-${model}`} />
              <span className="muted">
                {formatBytes(p.loaded)}
                {p.total ? ` / ${formatBytes(p.total)}` : ''}
              </span>
            </label>
          ))}
        </div>
      )}
    </section>
  );
}
