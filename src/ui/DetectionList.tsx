/**
 * A panel's detections as a list (class, score, found by both decoders or by this one only): the canvas's text
 * alternative; hovering or focusing a row highlights its box.
 */
import type { Detection } from '../model/types';
import { labelColours } from './colours';
import type { Emphasis } from './draw';

export function DetectionList(p: {
  id: string;
  title: string;
  dets: readonly Detection[];
  /** Agreed with the other decoder or not (absent: NanoDet, or no result of the other decoder). */
  agreement?: ReadonlyMap<Detection, Emphasis>;
  appeared?: ReadonlySet<Detection>;
  onHighlight: (d: Detection | null) => void;
  testid: string;
}) {
  return (
    <ol
      id={p.id}
      className="det-list"
      data-testid={p.testid}
      aria-label={`${p.title}: ${p.dets.length} detections`}
      onMouseLeave={() => p.onHighlight(null)}
    >
      {p.dets.map((d, i) => {
        const how = p.agreement?.get(d);
        const c = labelColours(d.label);
        return (
          <li
            key={i}
            tabIndex={0}
            data-label={d.label}
            onMouseEnter={() => p.onHighlight(d)}
            onFocus={() => p.onHighlight(d)}
            onBlur={() => p.onHighlight(null)}
          >
            <span className="det-swatch" style={{ background: c.background }} aria-hidden="true" />
            <span className="det-name">{d.name}</span>
            <span className="det-score">{d.score.toFixed(2)}</span>
            {how && <span className={`det-agree det-${how}`}>{how === 'agreed' ? 'both' : 'this one only'}</span>}
            {p.appeared?.has(d) && <span className="det-agree det-new">new vs full</span>}
          </li>
        );
      })}
    </ol>
  );
}
