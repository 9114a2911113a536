/**
 * Val AP vs decoder parameters of LORS slices (models/compression.json, written offline by
 * `python3 -m training.lors_studio.compress grid`): one curve per source (trained LORS, vanilla compressed to LORS),
 * the current slider position marked.
 */
import { useMemo } from 'react';
import { countParameters } from '../model/params';
import { formatCount } from './format';
import { useDeferredLorsSelection } from '../state/lorsSlice';
import { sameSlice } from '../state/measuredSlice';
import { useModels } from '../state/modelStatus';

const W = 560,
  H = 260,
  L = 48,
  R = 12,
  T = 14,
  B = 40;
const COLOURS = { trained: '#c2410c', compressed: '#2563eb' } as const;

export function CompressionChart() {
  const data = useModels((s) => s.compression);
  const { source: lorsSource, config: countedLors } = useDeferredLorsSelection();
  const current = useMemo(() => ({ cfg: countedLors, params: countParameters(countedLors).decoder }), [countedLors]);
  if (!data) return null;
  const series = (['trained', 'compressed'] as const).map((k) => ({
    key: k,
    pts: [...data[k]].sort((a, b) => a.decoderParams - b.decoderParams),
  }));
  const all = series.flatMap((s) => s.pts);
  const refs = [data.reference?.vanilla, data.reference?.lors].filter(
    (r): r is { AP: number; decoderParams: number } => !!r,
  );
  const xs = [...all.map((p) => p.decoderParams), ...refs.map((r) => r.decoderParams), current.params];
  const x0 = Math.min(...xs) * 0.9,
    x1 = Math.max(...xs) * 1.1;
  const yMax = Math.max(1, ...all.map((p) => p.AP), ...refs.map((r) => r.AP)) * 1.1;
  const lx = (v: number) => L + ((Math.log(v) - Math.log(x0)) / (Math.log(x1) - Math.log(x0))) * (W - L - R);
  const ly = (v: number) => T + (1 - v / yMax) * (H - T - B);
  const lors = current.cfg.lors;
  const match = lors ? data[lorsSource].find((p) => sameSlice(p, lors)) : undefined;
  const ticks = [1e6, 2e6, 5e6, 1e7, 2e7, 5e7].filter((v) => v >= x0 && v <= x1);
  return (
    <section className="compression" aria-label="AP vs decoder parameters" data-testid="compression-chart">
      <h2>Val AP vs decoder parameters of the slices</h2>
      <svg
        viewBox={`0 0 ${W} ${H}`}
        width="100%"
        role="img"
        aria-label="AP against decoder parameters for both LORS sources"
      >
        <line x1={L} y1={H - B} x2={W - R} y2={H - B} stroke="#888" />
        <line x1={L} y1={T} x2={L} y2={H - B} stroke="#888" />
        {ticks.map((v) => (
          <g key={v}>
            <line x1={lx(v)} x2={lx(v)} y1={H - B} y2={H - B + 4} stroke="#888" />
            <text x={lx(v)} y={H - B + 16} fontSize="10" textAnchor="middle">
              {formatCount(v)}
            </text>
          </g>
        ))}
        {[0, 0.25, 0.5, 0.75, 1].map((f) => (
          <text key={f} x={L - 6} y={ly(f * yMax) + 3} fontSize="10" textAnchor="end">
            {(f * yMax).toFixed(1)}
          </text>
        ))}
        <text x={(L + W - R) / 2} y={H - 6} fontSize="11" textAnchor="middle">
          decoder parameters (log scale)
        </text>
        <text
          x={12}
          y={(T + H - B) / 2}
          fontSize="11"
          textAnchor="middle"
          transform={`rotate(-90 12 ${(T + H - B) / 2})`}
        >
          val AP
        </text>
        {data.reference?.vanilla && (
          <g>
            <line
              x1={L}
              x2={W - R}
              y1={ly(data.reference.vanilla.AP)}
              y2={ly(data.reference.vanilla.AP)}
              stroke="#555"
              strokeDasharray="4 3"
            />
            <text x={W - R - 2} y={ly(data.reference.vanilla.AP) - 4} fontSize="10" textAnchor="end">
              vanilla {data.reference.vanilla.AP.toFixed(1)} AP
            </text>
          </g>
        )}
        {series.map(({ key, pts }) => (
          <g key={key}>
            <polyline
              fill="none"
              stroke={COLOURS[key]}
              strokeWidth={1.5}
              points={pts.map((p) => `${lx(p.decoderParams)},${ly(p.AP)}`).join(' ')}
            />
            {pts.map((p, i) => (
              <circle
                key={i}
                cx={lx(p.decoderParams)}
                cy={ly(p.AP)}
                r={3}
                fill={p.shipped === false ? 'var(--card)' : COLOURS[key]}
                stroke={COLOURS[key]}
              >
                <title>{`${key === 'trained' ? 'trained LORS' : 'vanilla compressed'}: r_A ${p.rankA}, K [${p.groupsA.join(',')}], r_T ${p.rankT}: ${formatCount(p.decoderParams)} params, AP ${p.AP.toFixed(2)}${p.shipped === false ? ' (offline only: beyond the shipped factors)' : ''}`}</title>
              </circle>
            ))}
          </g>
        ))}
        <g data-testid="compression-current" data-params={current.params}>
          <line
            x1={lx(current.params)}
            x2={lx(current.params)}
            y1={T}
            y2={H - B}
            stroke={COLOURS[lorsSource]}
            strokeDasharray="2 2"
          />
          {match && (
            <circle
              cx={lx(match.decoderParams)}
              cy={ly(match.AP)}
              r={6}
              fill="none"
              stroke="currentColor"
              strokeWidth={2}
            />
          )}
        </g>
      </svg>
      <p className="muted small">
        <span style={{ color: COLOURS.trained }}>●</span> trained LORS, sliced ·{' '}
        <span style={{ color: COLOURS.compressed }}>●</span> vanilla compressed to LORS, sliced (hollow: computed
        offline at ranks beyond the shipped factors) · dashed line: the current slider position (
        {formatCount(current.params)} parameters
        {match ? (
          <>
            , val AP <strong data-testid="compression-current-ap">{match.AP.toFixed(2)}</strong>
          </>
        ) : (
          ', not on the measured grid'
        )}
        ). Measured {data.measured.slice(0, 10)} on {data.images} images of {data.split} (PyTorch, cached features).
      </p>
    </section>
  );
}
