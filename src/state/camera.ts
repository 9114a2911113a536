/** The live camera's state: off, starting, running or paused; its frame rate; why it stopped. */
import { createStore, useStore } from 'zustand';

export type CameraStatus = 'off' | 'starting' | 'running' | 'paused';

export interface CameraState {
  status: CameraStatus;
  /** Why the camera is off (denied, absent, lost), shown until the next start. */
  message: string | null;
  /** Frames processed per second (backbone + decoders), null before two frames. */
  fps: number | null;
  frames: number;
  label: string | null;
  setStarting: () => void;
  setRunning: (label: string) => void;
  setPaused: (paused: boolean) => void;
  setFrameStats: (frames: number, fps: number | null) => void;
  /** Stopped by the user (message null) or by a failure (its message). */
  setOff: (message: string | null) => void;
}

export function createCameraStore() {
  return createStore<CameraState>()((set) => ({
    status: 'off',
    message: null,
    fps: null,
    frames: 0,
    label: null,
    setStarting: () => set({ status: 'starting', message: null, fps: null, frames: 0 }),
    setRunning: (label) => set({ status: 'running', label }),
    setPaused: (paused) =>
      set((s) => (s.status === 'off' || s.status === 'starting' ? {} : { status: paused ? 'paused' : 'running' })),
    setFrameStats: (frames, fps) => set({ frames, fps }),
    setOff: (message) => set({ status: 'off', message, fps: null }),
  }));
}

export const cameraStore = createCameraStore();
export const useCamera = <T>(sel: (s: CameraState) => T) => useStore(cameraStore, sel);
