/** The headline result read from models/metrics.json (the file changes whenever the decoders are retrained). */
import type { HeadlineFigures } from '../state/modelStatus';

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

interface ModelEntry {
  params?: { decoder?: unknown };
  metrics?: { AP?: unknown; images?: unknown };
}

/** The figures, or null when metrics.json lacks any of them (then no headline is shown: never a made-up number). */
export function headlineFromMetrics(json: unknown): HeadlineFigures | null {
  const models = (json as { models?: Record<string, ModelEntry | undefined> } | null)?.models;
  if (!models) return null;
  const decoder = (m: ModelEntry | undefined) => {
    const AP = num(m?.metrics?.AP);
    const decoderParams = num(m?.params?.decoder);
    return AP !== undefined && decoderParams !== undefined && decoderParams > 0 ? { AP, decoderParams } : null;
  };
  const vanilla = decoder(models.vanilla);
  const lors = decoder(models.lors);
  const images = num(models.vanilla?.metrics?.images);
  if (!vanilla || !lors || images === undefined) return null;
  const nanodetAP = num(models.nanodet?.metrics?.AP);
  return { images, vanilla, lors, ...(nanodetAP !== undefined ? { nanodet: { AP: nanodetAP } } : {}) };
}
