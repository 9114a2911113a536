/**
 * The live camera: opens the user's camera (getUserMedia, video only), grabs its newest frame as a downscaled
 * ImageBitmap, and stops every track when done. Frames stay in the page; nothing is recorded or sent anywhere.
 */

/** Long side of the frames the detectors get (the backbone letterboxes to 416 px anyway). */
export const CAMERA_MAX_SIDE = 640;

export class CameraError extends Error {}

/** A user-facing sentence for a getUserMedia failure. */
export function cameraErrorText(e: unknown): string {
  const name = e instanceof Error ? e.name : '';
  const tail = 'Photos still work: drop one or pick a sample.';
  if (name === 'NotAllowedError' || name === 'SecurityError') {
    return `Camera access was denied (allow it in the browser's site settings to use the live camera). ${tail}`;
  }
  if (name === 'NotFoundError' || name === 'OverconstrainedError') return `No camera was found. ${tail}`;
  if (name === 'NotReadableError' || name === 'AbortError') {
    return `The camera could not be started (another application may be using it). ${tail}`;
  }
  if (e instanceof CameraError) return `${e.message} ${tail}`;
  return `The camera failed: ${e instanceof Error ? e.message : String(e)}. ${tail}`;
}

export class Camera {
  private constructor(
    private readonly stream: MediaStream,
    private readonly video: HTMLVideoElement,
  ) {}

  /** Asks for the camera; rejects with the browser's error (see cameraErrorText). */
  static async open(onLost: () => void): Promise<Camera> {
    if (!navigator.mediaDevices?.getUserMedia) {
      throw new CameraError('This browser offers no camera access here (it needs https or localhost).');
    }
    const stream = await navigator.mediaDevices.getUserMedia({
      video: { width: { ideal: 640 }, height: { ideal: 480 } },
      audio: false,
    });
    const video = document.createElement('video');
    video.muted = true;
    video.playsInline = true;
    video.srcObject = stream;
    const cam = new Camera(stream, video);
    for (const t of stream.getVideoTracks()) t.addEventListener('ended', onLost);
    try {
      await video.play();
    } catch (e) {
      cam.stop();
      throw e;
    }
    return cam;
  }

  get label(): string {
    return this.stream.getVideoTracks()[0]?.label ?? 'camera';
  }

  /** The newest frame, at most CAMERA_MAX_SIDE on its long side; null while the video has no frame yet. */
  async grab(): Promise<ImageBitmap | null> {
    const v = this.video;
    if (v.readyState < HTMLMediaElement.HAVE_CURRENT_DATA || !v.videoWidth || !v.videoHeight) return null;
    const f = Math.min(1, CAMERA_MAX_SIDE / Math.max(v.videoWidth, v.videoHeight));
    const resizeWidth = Math.max(1, Math.round(v.videoWidth * f)),
      resizeHeight = Math.max(1, Math.round(v.videoHeight * f));
    return createImageBitmap(v, { resizeWidth, resizeHeight, resizeQuality: 'medium' });
  }

  /** Stops every track (the browser's camera indicator goes off) and detaches the video. */
  stop() {
    for (const t of this.stream.getTracks()) t.stop();
    this.video.srcObject = null;
  }
}

/** One animation frame (the loop's pace: no faster than the screen, and paused with the tab). */
export const nextAnimationFrame = () => new Promise<void>((ok) => requestAnimationFrame(() => ok()));
