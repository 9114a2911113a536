/** The headline result in one line, read from models/metrics.json (no figure shown before it is known). */
import { useModels } from '../state/modelStatus';
import { formatCount } from './format';

export function Headline() {
  const h = useModels((s) => s.headline);
  if (!h)
    return (
      <p className="tagline" data-testid="headline" data-state="pending">
        Vanilla AdaMixer and AdaMixer + LORS detect side by side in your browser.
      </p>
    );
  const share = (100 * h.lors.decoderParams) / h.vanilla.decoderParams;
  return (
    <p className="tagline" data-testid="headline" data-state="known">
      On {h.images} COCO photos, <strong>LORS scores {h.lors.AP.toFixed(1)} AP</strong> with{' '}
      <strong>{share.toFixed(0)}% of the decoder's parameters</strong> ({formatCount(h.lors.decoderParams)}); vanilla
      AdaMixer scores {h.vanilla.AP.toFixed(1)} AP with {formatCount(h.vanilla.decoderParams)}.
    </p>
  );
}
