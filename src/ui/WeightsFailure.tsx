import { controller } from '../app/controller';
import type { DecoderSlot } from '../model/types';
import { useModels } from '../state/modelStatus';
import { formatBytes } from './format';

/**
 * A decoder whose trained weights could not be loaded: which file failed and why, a Retry button (fetches only what
 * failed) and the explicit choice of seeded initial weights (boxes that mean nothing, labelled as such). While a
 * retry runs: its download progress.
 */
export function WeightsFailure({ model }: { model: DecoderSlot }) {
  const failed = useModels((s) => s.decoders[model]?.failed);
  const loading = useModels((s) => s.decoderLoading[model]);
  const progress = useModels((s) => s.progress[model]);
  const seeded = useModels((s) => s.decoders[model]?.trained === false);
  if (loading) {
    return (
      <div className="weights-failure" role="status" data-testid={`weights-loading-${model}`}>
        <p>{loading === 'retry' ? 'Downloading the trained weights again…' : 'Loading seeded initial weights…'}</p>
        {progress && progress.total > 0 && (
          <p className="progress-row">
            <progress
              max={progress.total}
              value={Math.min(progress.loaded, progress.total)}
              data-testid={`retry-progress-${model}`}
            />
            <span className="muted">
              {formatBytes(progress.loaded)} / {formatBytes(progress.total)}
            </span>
          </p>
        )}
      </div>
    );
  }
  if (!failed) {
    if (!seeded) return null;
    return (
      <div className="weights-failure weights-seeded" role="status" data-testid={`weights-seeded-${model}`}>
        <p>Running seeded random weights, as asked: these boxes mean nothing.</p>
        <p className="weights-failure-actions">
          <button type="button" data-testid={`retry-${model}`} onClick={() => void controller.loadDecoder(model)}>
            Retry the trained weights
          </button>
        </p>
      </div>
    );
  }
  return (
    <div className="weights-failure" role="alert" data-testid={`weights-failure-${model}`}>
      <p>
        <strong>The trained weights could not be loaded</strong>, so this panel does not detect.{' '}
        <code data-testid={`failure-file-${model}`}>{failed.file}</code>:{' '}
        <span data-testid={`failure-reason-${model}`}>{failed.reason}</span>
      </p>
      <p className="weights-failure-actions">
        <button type="button" data-testid={`retry-${model}`} onClick={() => void controller.loadDecoder(model)}>
          Retry download
        </button>
        <button
          type="button"
          className="secondary"
          data-testid={`seeded-${model}`}
          onClick={() => void controller.loadDecoder(model, true)}
        >
          Run untrained (seeded random weights: boxes mean nothing)
        </button>
      </p>
    </div>
  );
}
