/** The live camera's controls: the start button (beside the samples) and, while it runs, its bar above the panels. */
import { controller } from '../app/controller';
import { useCamera } from '../state/camera';
import { useModels } from '../state/modelStatus';
import { useSession } from '../state/session';
import { useSettings } from '../state/settings';

export function CameraButton() {
  const status = useCamera((s) => s.status);
  const ready = useModels((s) => s.phase === 'ready');
  return (
    <button
      type="button"
      className="camera-start"
      data-testid="camera-start"
      disabled={status !== 'off' || !ready}
      title="Detect on your camera's live picture (it stays in this browser)"
      onClick={() => void controller.startCamera()}
    >
      {status === 'starting' ? 'Starting camera…' : status === 'off' ? 'Use camera' : 'Camera on'}
    </button>
  );
}

/** Why the camera stopped (denied, absent, lost). */
export function CameraMessage() {
  const message = useCamera((s) => s.message);
  return message ? (
    <p className="notice error" role="alert" data-testid="camera-error">
      {message}
    </p>
  ) : null;
}

const ms = (v: number | undefined | null) => (v === undefined || v === null ? '–' : v.toFixed(0));

export function CameraBar() {
  const status = useCamera((s) => s.status);
  const fps = useCamera((s) => s.fps);
  const frames = useCamera((s) => s.frames);
  const label = useCamera((s) => s.label);
  const results = useSession((s) => s.results);
  const backboneMs = useSession((s) => s.backboneMs);
  const showNanodet = useSettings((s) => s.showNanodet);
  if (status !== 'running' && status !== 'paused') return null;
  const paused = status === 'paused';
  return (
    <div className="camera-bar" role="group" aria-label="Live camera" data-testid="camera-bar" data-status={status}>
      <span className="badge badge-live">{paused ? 'paused' : '● live'}</span>
      <span className="small" title={label ?? undefined}>
        <span data-testid="camera-fps">{fps === null ? '–' : fps.toFixed(1)}</span> frames/s
        {' · '}
        <span data-testid="camera-frames">{frames}</span> frames
        {' · '}backbone {ms(backboneMs)} ms
        {' · '}vanilla <span data-testid="camera-latency-vanilla">{ms(results.vanilla?.latencyMs)}</span> ms
        {' · '}LORS <span data-testid="camera-latency-lors">{ms(results.lors?.latencyMs)}</span> ms
        {showNanodet && (
          <>
            {' · '}NanoDet head {ms(results.nanodet?.latencyMs)} ms
          </>
        )}
      </span>
      <span className="camera-buttons">
        <button
          type="button"
          data-testid="camera-pause"
          aria-pressed={paused}
          onClick={() => void controller.pauseCamera(!paused)}
        >
          {paused ? 'Resume' : 'Pause'}
        </button>
        <button type="button" data-testid="camera-stop" onClick={() => void controller.stopCamera()}>
          Stop camera
        </button>
      </span>
    </div>
  );
}
