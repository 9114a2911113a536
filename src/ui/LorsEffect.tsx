/**
 * Under the LORS panel: what the sliders changed on this photo against the full model (boxes that appeared or
 * vanished, a before/after toggle), the slice's measured val AP against the full model and vanilla, and — when the
 * change is negligible — why, with a switch to the source where the ranks matter.
 */
import { settingsStore, useSettings } from '../state/settings';
import { signedAp } from '../state/measuredSlice';
import { useModels } from '../state/modelStatus';
import { diffSummary } from './detectionDiff';
import type { LorsEffect as Effect } from './useLorsEffect';

/** " (−0.29 vs the full model, −1.14 vs vanilla)": the measured deltas that apply. */
function apDeltas({ measured: m, full, source }: Effect): string {
  if (!m) return '';
  const parts: string[] = [];
  if (!full && source === 'trained' && m.vsFull !== undefined) parts.push(`${signedAp(m.vsFull)} vs the full model`);
  if (m.vsVanilla !== undefined) parts.push(`${signedAp(m.vsVanilla)} vs vanilla`);
  return parts.length ? ` (${parts.join(', ')})` : '';
}

export function LorsEffect({ effect }: { effect: Effect }) {
  const before = useSettings((s) => s.showLorsBefore);
  const hasCompressed = useModels((s) => !!s.lorsSources.compressed);
  const { diff, measured, full } = effect;
  const ap = measured ? (
    <>
      val AP <strong>{measured.point.AP.toFixed(2)}</strong>
      {apDeltas(effect)}
    </>
  ) : (
    'val AP not measured for this slice (the chart below shows the measured grid)'
  );
  return (
    <div
      className="lors-effect"
      data-testid="lors-effect"
      data-state={full ? 'full' : 'slice'}
      data-added={diff?.appeared.length ?? ''}
      data-removed={diff?.vanished.length ?? ''}
      data-ap={measured?.point.AP ?? ''}
      data-ap-vs-full={measured?.vsFull ?? ''}
    >
      <p data-testid="lors-effect-diff">
        {full ? (
          <>The full model of this source is running: move a slider to cut it and see what changes.</>
        ) : diff ? (
          <>
            <strong>{diffSummary(diff)}</strong> vs {effect.referenceName}
            {(diff.appeared.length > 0 || diff.vanished.length > 0) && (
              <span className="muted small"> (on the picture: “+” new, grey dashed: gone)</span>
            )}
          </>
        ) : (
          <>
            No boxes of {effect.referenceName} on this photo yet
            {effect.source === 'trained' ? ' (it runs when the sliders are at their maximum)' : ''}: nothing to compare
            with.
          </>
        )}
      </p>
      <p data-testid="lors-effect-ap">
        {full ? 'This model: ' : 'This slice: '}
        {ap}
      </p>
      {!full && effect.reference && (
        <label className="check small">
          <input
            type="checkbox"
            checked={before}
            data-testid="lors-before-after"
            onChange={(e) => settingsStore.getState().setShowLorsBefore(e.target.checked)}
          />
          <span>Show {effect.referenceName} (before)</span>
        </label>
      )}
      {effect.negligible && (
        <p className="lors-why" data-testid="lors-effect-why">
          Hardly anything changes: in the trained LORS model the six stages share their large weights, and those carry
          it — the private low-rank parts the sliders cut add little. The vanilla model compressed into LORS shows what
          the ranks cost when the stages were trained separately.{' '}
          {hasCompressed && (
            <button
              type="button"
              data-testid="lors-switch-compressed"
              onClick={() => settingsStore.getState().setLorsSource('compressed')}
            >
              Try vanilla compressed to LORS
            </button>
          )}
        </p>
      )}
    </div>
  );
}
