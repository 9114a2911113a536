/** "What is LORS?": two sentences and a diagram of one shared part plus small private parts over the six stages. */
import { DECODER_STAGES } from '../state/settings';

function StagesDiagram() {
  const stages = Array.from({ length: DECODER_STAGES }, (_, i) => i);
  const w = 300,
    colW = w / DECODER_STAGES;
  return (
    <svg
      viewBox={`0 0 ${w} 92`}
      className="explainer-diagram"
      role="img"
      aria-label={`One shared block used by all ${DECODER_STAGES} stages, plus a small private block per stage`}
    >
      <rect x={2} y={4} width={w - 4} height={34} rx={5} className="dia-shared" />
      <text x={w / 2} y={26} textAnchor="middle" className="dia-text">
        shared weights (all stages)
      </text>
      {stages.map((i) => (
        <g key={i}>
          <rect x={i * colW + 6} y={46} width={colW - 12} height={14} rx={3} className="dia-private" />
          <text x={i * colW + colW / 2} y={80} textAnchor="middle" className="dia-text dia-small">
            stage {i + 1}
          </text>
        </g>
      ))}
    </svg>
  );
}

export function Explainer() {
  return (
    <details className="explainer popover" data-testid="explainer">
      <summary>What is LORS?</summary>
      <div className="popover-body">
        <p>
          A detector's decoder stacks {DECODER_STAGES} stages that normally each have their own large weights. LORS
          (low-rank residual structure) lets the stages share one set of weights and gives each only a small private
          low-rank part, so the decoder needs a fraction of the parameters.
        </p>
        <StagesDiagram />
        <p className="muted small">
          The sliders cut those private parts: r<sub>A</sub> is the rank of LORS<sup>A</sup> (on the generator of each
          query's mixing weights), r<sub>T</sub> the rank of LORS<sup>T</sup> (on the output layer), K how many low-rank
          terms LORS<sup>A</sup> adds per stage. Paper:{' '}
          <a href="https://arxiv.org/abs/2403.04303" target="_blank" rel="noreferrer">
            LORS, CVPR 2024
          </a>
          .
        </p>
      </div>
    </details>
  );
}
