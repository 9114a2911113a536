import { useMemo } from 'react';
import { paperTotals, stageBars, table1LOutput, table1Ms, TABLE1_RANKS, type StageBar } from '../app/paperReference';
import { makeConfig } from '../model/config';
import { countParameters } from '../model/params';
import { formatCount } from './format';
import { useLorsSelection } from '../state/lorsSlice';
import { useModels } from '../state/modelStatus';

const COLOURS = { vanilla: '#8a94a6', other: '#3b82f6', private: '#f59e0b', shared: '#10b981' };

function Bars({ bars }: { bars: StageBar[] }) {
  const max = Math.max(1, ...bars.map((b) => Math.max(b.vanilla, b.other + b.private + b.sharedShare)));
  const rowH = 16,
    gap = 10,
    labelW = 64,
    width = 420,
    barW = width - labelW - 8;
  const height = bars.length * (2 * rowH + gap) + 4;
  const w = (n: number) => (n / max) * barW;
  return (
    <svg
      viewBox={`0 0 ${width} ${height}`}
      className="bars"
      role="img"
      data-testid="params-chart"
      aria-label="Per-stage parameters: vanilla stage vs LORS stage (ordinary, private, amortised shared)"
    >
      {bars.map((b, i) => {
        const y = i * (2 * rowH + gap);
        const lx = labelW;
        return (
          <g key={b.stage}>
            <text x={0} y={y + rowH + 4} className="bar-label">
              stage {b.stage + 1}
            </text>
            <rect x={lx} y={y} width={w(b.vanilla)} height={rowH - 2} fill={COLOURS.vanilla}>
              <title>
                vanilla stage {b.stage + 1}: {b.vanilla.toLocaleString('en-US')}
              </title>
            </rect>
            <rect x={lx} y={y + rowH} width={w(b.other)} height={rowH - 2} fill={COLOURS.other}>
              <title>
                LORS stage {b.stage + 1}, ordinary per-stage tensors: {b.other.toLocaleString('en-US')}
              </title>
            </rect>
            <rect x={lx + w(b.other)} y={y + rowH} width={w(b.private)} height={rowH - 2} fill={COLOURS.private}>
              <title>
                LORS stage {b.stage + 1}, private low-rank parts: {b.private.toLocaleString('en-US')}
              </title>
            </rect>
            <rect
              x={lx + w(b.other) + w(b.private)}
              y={y + rowH}
              width={w(b.sharedShare)}
              height={rowH - 2}
              fill={COLOURS.shared}
              opacity={0.7}
            >
              <title>
                LORS shared parts amortised over the stages: {Math.round(b.sharedShare).toLocaleString('en-US')}
              </title>
            </rect>
          </g>
        );
      })}
    </svg>
  );
}

function Legend() {
  return (
    <ul className="legend">
      <li>
        <i style={{ background: COLOURS.vanilla }} />
        vanilla stage
      </li>
      <li>
        <i style={{ background: COLOURS.other }} />
        LORS: ordinary per-stage (attention, sampling, FFN, heads)
      </li>
      <li>
        <i style={{ background: COLOURS.private }} />
        LORS: private low-rank parts
      </li>
      <li>
        <i style={{ background: COLOURS.shared, opacity: 0.7 }} />
        LORS: shared parts ÷ stages
      </li>
    </ul>
  );
}

export function ParamsView() {
  const decoders = useModels((s) => s.decoders);
  const vanillaCfg = useMemo(() => decoders.vanilla?.config ?? makeConfig('web', 'vanilla'), [decoders]);
  const lorsCfg = useLorsSelection().config;
  const { bars, shared } = useMemo(() => stageBars(vanillaCfg, lorsCfg), [vanillaCfg, lorsCfg]);
  const v = countParameters(vanillaCfg).decoder;
  const l = countParameters(lorsCfg).decoder;
  const paper = useMemo(
    () => ({
      totals: paperTotals(),
      lout: TABLE1_RANKS.map((r) => table1LOutput(r)),
      ms: TABLE1_RANKS.map((r) => table1Ms(r)),
    }),
    [],
  );
  const M = (n: number) => `${(n / 1e6).toFixed(4)}M`;
  return (
    <section className="params-view" aria-label="Parameter view">
      <h2>Where the parameters are</h2>
      <p>
        Current LORS configuration (
        <span data-testid="params-view-lors" data-value={l}>
          {formatCount(l)}
        </span>{' '}
        decoder parameters, of which <strong>{formatCount(shared)}</strong> shared by all {lorsCfg.decoder.stages}{' '}
        stages) against vanilla AdaMixer (
        <span data-testid="params-view-vanilla" data-value={v}>
          {formatCount(v)}
        </span>
        ): <strong>{((100 * l) / v).toFixed(1)}%</strong> of the vanilla decoder.
      </p>
      <Legend />
      <Bars bars={bars} />
      <h3>Paper scale (same counter)</h3>
      <p>
        AdaMixer's decoder (G=4, P<sub>in</sub>=32):{' '}
        <strong data-testid="paper-vanilla">{formatCount(paper.totals.vanilla4x32)}</strong> (
        {paper.totals.vanilla4x32.toLocaleString('en-US')}) vs LORS (G=2, P<sub>in</sub>=64, r<sub>A</sub>=16,
        K=[1,1,2,2,3,3], r<sub>T</sub>=8): <strong data-testid="paper-lors">{formatCount(paper.totals.lors)}</strong> (
        {paper.totals.lors.toLocaleString('en-US')}), a{' '}
        {(100 * (1 - paper.totals.lors / paper.totals.vanilla4x32)).toFixed(0)}% reduction. (Vanilla with LORS's G=2, P
        <sub>in</sub>=64: {formatCount(paper.totals.vanilla2x64)}.)
      </p>
      <p className="muted small">
        Table 1 of the paper: parameters per layer, the shared part amortised over the 6 stages.
      </p>
      <div className="table-scroll">
        <table data-testid="paper-table1">
          <thead>
            <tr>
              <th scope="col">layer</th>
              <th scope="col">vanilla</th>
              {TABLE1_RANKS.map((r) => (
                <th key={r} scope="col">
                  r={r}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            <tr>
              <th scope="row">
                L<sub>output</sub> with LORS<sup>T</sup> (K=1)
              </th>
              <td>{M(paper.lout[0]!.vanilla)}</td>
              {paper.lout.map((x, i) => (
                <td key={i}>{M(x.lors)}</td>
              ))}
            </tr>
            <tr>
              <th scope="row">
                M<sub>s</sub> with LORS<sup>A</sup> (K=2)
              </th>
              <td>{M(paper.ms[0]!.vanilla)}</td>
              {paper.ms.map((x, i) => (
                <td key={i}>{M(x.lors)}</td>
              ))}
            </tr>
          </tbody>
        </table>
      </div>
    </section>
  );
}
