/**
 * `?stallSeconds=N`: how long a model download may go without data before it is called stalled (tests use a few
 * seconds; the default is the worker's STALL_TIMEOUT_MS). Accepted: 0.1 to 600 seconds.
 */
export function stallMsFromSearch(search: string): number | undefined {
  const raw = new URLSearchParams(search).get('stallSeconds');
  if (raw === null || raw.trim() === '') return undefined;
  const s = Number(raw);
  return Number.isFinite(s) && s >= 0.1 && s <= 600 ? Math.round(s * 1000) : undefined;
}
