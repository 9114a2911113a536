/**
 * The live camera: each frame runs the backbone once and the panels' heads on it, one frame at a time (the newest;
 * see FrameLoop), shown with all its boxes at once. Sliders, stage and threshold stay live. A denied, absent or lost
 * camera stops it with a message; photos keep working.
 */
import { cameraStore } from '../state/camera';
import { sessionStore, type PhotoInfo } from '../state/session';
import { Camera, cameraErrorText, nextAnimationFrame } from './camera';
import { FrameLoop } from './frameLoop';
import { panelResult, runnablePanels } from './photos';
import { errorText, type WorkerSession } from './workerSession';

const CAMERA_LOST =
  'The camera stopped (it was unplugged, or another application took it). ' +
  'Photos still work: drop one or pick a sample.';

export class LiveCamera {
  private live: { cam: Camera; loop: FrameLoop<ImageBitmap> } | null = null;

  constructor(
    private readonly session: WorkerSession,
    /** Whether a photo job is running (frames are skipped meanwhile). */
    private readonly photoBusy: () => boolean,
  ) {}

  /** Whether frames are flowing (or paused): photos' re-runs leave the panels to the next frame. */
  get on(): boolean {
    return this.live !== null;
  }

  async start(): Promise<void> {
    if (this.live || cameraStore.getState().status === 'starting') return;
    cameraStore.getState().setStarting();
    let cam: Camera;
    try {
      cam = await Camera.open(() => void this.stop(CAMERA_LOST));
    } catch (e) {
      cameraStore.getState().setOff(cameraErrorText(e));
      return;
    }
    if (cameraStore.getState().status !== 'starting') {
      cam.stop();
      return;
    } // stopped while asking
    const loop: FrameLoop<ImageBitmap> = new FrameLoop<ImageBitmap>({
      grab: () => cam.grab(),
      process: (frame) => this.runFrame(frame, loop),
      tick: nextAnimationFrame,
      discard: (frame) => frame.close(),
      onFrame: () => cameraStore.getState().setFrameStats(loop.frames, loop.fps),
      onError: (e) => void this.stop(`The camera stopped: ${errorText(e)}`),
    });
    this.live = { cam, loop };
    sessionStore.getState().setError(null);
    cameraStore.getState().setRunning(cam.label);
  }

  /** Pause shows once the frame in flight has landed (from then on nothing changes); resume at once. */
  async pause(paused: boolean): Promise<void> {
    const c = this.live;
    if (!c) return;
    if (!paused) {
      c.loop.resume();
      cameraStore.getState().setPaused(false);
      return;
    }
    await c.loop.pause();
    if (this.live === c && c.loop.status === 'paused') cameraStore.getState().setPaused(true);
  }

  /** Stops the camera (every track ended); the last frame and its boxes stay on screen. */
  async stop(message: string | null = null): Promise<void> {
    const c = this.live;
    this.live = null;
    cameraStore.getState().setOff(message);
    if (!c) return;
    c.cam.stop();
    await c.loop.stop();
  }

  /** Stops the camera if it is on or still starting (a photo was dropped). */
  stopIfOn() {
    if (this.live || cameraStore.getState().status === 'starting') void this.stop();
  }

  /** One frame: backbone, then the panels' heads; shown with its boxes only when all are done. */
  private async runFrame(frame: ImageBitmap, loop: FrameLoop<ImageBitmap>): Promise<boolean> {
    const w = this.session.ready();
    if (!w || this.photoBusy()) {
      frame.close(); // models (re)loading or a photo running: skip this frame
      return false;
    }
    const id = this.session.nextImageId();
    const mine = () => this.session.current(w.gen) && this.live?.loop === loop;
    let shown = false;
    try {
      const backboneMs = await this.session.setImage(id, frame);
      const results = await this.session.detect(id, runnablePanels());
      if (!mine()) return false;
      const photo: PhotoInfo = {
        id,
        name: 'camera',
        bitmap: frame,
        width: frame.width,
        height: frame.height,
        originalWidth: frame.width,
        originalHeight: frame.height,
      };
      sessionStore.getState().setFrame(photo, Object.fromEntries(results.map((r) => [r.model, panelResult(r)])));
      sessionStore.getState().setBackboneMs(backboneMs);
      shown = true;
      return true;
    } catch (e) {
      if (mine()) throw e;
      return false;
    } finally {
      if (!shown) frame.close();
    }
  }
}
