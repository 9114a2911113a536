/** The backend choice and its place in the address bar (`?backend=webgpu|wasm|cpu`). */
import type { BackendName } from '../model/types';

export type BackendChoiceName = BackendName | 'auto';
export const BACKEND_CHOICES: BackendChoiceName[] = ['auto', 'webgpu', 'wasm', 'cpu'];

/** Reads `?backend=webgpu|wasm|cpu` (anything else, or nothing: 'auto'). */
export function backendFromSearch(search: string): BackendChoiceName {
  const v = new URLSearchParams(search).get('backend');
  return v === 'webgpu' || v === 'wasm' || v === 'cpu' ? v : 'auto';
}

/** The query string with `backend` set (removed for 'auto'), other parameters kept. */
export function searchWithBackend(search: string, backend: BackendChoiceName): string {
  const p = new URLSearchParams(search);
  if (backend === 'auto') p.delete('backend');
  else p.set('backend', backend);
  const s = p.toString();
  return s ? `?${s}` : '';
}
