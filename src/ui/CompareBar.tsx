/** The line above the panels: the live camera's bar and the agreement summary, when they are on. */
import { useCamera } from '../state/camera';
import { useAgreement } from './useAgreement';
import { CameraBar } from './CameraBar';
import { agreementSummary } from './agreement';

export function CompareBar() {
  const agreement = useAgreement();
  // Announced when it changes, but not on every camera frame.
  const live = useCamera((s) => s.status === 'off');
  return (
    <div className="compare-bar">
      <CameraBar />
      {agreement && (
        <p
          className="agreement-summary"
          role={live ? 'status' : undefined}
          data-testid="agreement-summary"
          data-agree={agreement.match.pairs.length}
          data-total={agreement.match.pairs.length + agreement.match.onlyA.length + agreement.match.onlyB.length}
        >
          {agreementSummary(agreement.match, 'vanilla', 'LORS')}
          <span className="muted small"> · same class, IoU ≥ 0.5; ★ dashed: one decoder only</span>
        </p>
      )}
    </div>
  );
}
