import { useShallow } from 'zustand/react/shallow';
import { COCO_CLASSES } from '../model/cocoFormat';
import { PAPER_GROUPS } from '../model/config';
import { useLorsSelection } from '../state/lorsSlice';
import { useModels } from '../state/modelStatus';
import { DECODER_STAGES, useSettings, settingsStore, type SettingsState } from '../state/settings';

const settings = () => settingsStore.getState();
const shown = (s: SettingsState) => ({
  threshold: s.scoreThreshold,
  classFilter: s.classFilter,
  showNanodet: s.showNanodet,
  groupsMode: s.groupsMode,
  stage: s.decoderStage,
  showAgreement: s.showAgreement,
});

export function Controls() {
  const { threshold, classFilter, showNanodet, groupsMode, stage, showAgreement } = useSettings(useShallow(shown));
  const sources = useModels((s) => s.lorsSources);
  // The sliders reach as far as the source's stored factors and show the slice that runs.
  const { source: lorsSource, limits, config } = useLorsSelection();
  const [lim, run] = [limits.lors!, config.lors!];
  const maxK = Math.max(...lim.groupsA);
  return (
    <section className="controls" aria-label="Controls">
      <fieldset>
        <legend>Display</legend>
        <label className="field">
          <span>
            Score threshold <output data-testid="score-threshold-value">{threshold.toFixed(2)}</output>
          </span>
          <input
            type="range"
            min={0}
            max={1}
            step={0.01}
            value={threshold}
            data-testid="score-threshold"
            onChange={(e) => settings().setScoreThreshold(Number(e.target.value))}
          />
        </label>
        <label className="field">
          <span>
            Decoder stage <output data-testid="stage-value">{stage}</output>{' '}
            <span className="muted small">
              of {DECODER_STAGES}
              {stage === DECODER_STAGES ? ' (the output)' : ''}
            </span>
          </span>
          <input
            type="range"
            min={1}
            max={DECODER_STAGES}
            step={1}
            value={stage}
            data-testid="stage-scrubber"
            aria-describedby="stage-hint"
            onChange={(e) => settings().setDecoderStage(Number(e.target.value))}
          />
          <span id="stage-hint" className="muted small">
            Boxes are refined over {DECODER_STAGES} stacked stages, the stages LORS shares weights across.
          </span>
        </label>
        <label className="check">
          <input
            type="checkbox"
            checked={showAgreement}
            data-testid="toggle-agreement"
            onChange={(e) => settings().setShowAgreement(e.target.checked)}
          />
          <span>Agreement view: fade boxes both decoders found, highlight the rest</span>
        </label>
        <label className="field">
          <span>Class</span>
          <select
            data-testid="class-filter"
            value={classFilter === null ? '' : String(classFilter)}
            onChange={(e) => settings().setClassFilter(e.target.value === '' ? null : Number(e.target.value))}
          >
            <option value="">all classes</option>
            {COCO_CLASSES.map((c, i) => (
              <option key={c} value={i}>
                {c}
              </option>
            ))}
          </select>
        </label>
        <label className="check">
          <input
            type="checkbox"
            checked={showNanodet}
            data-testid="toggle-nanodet"
            onChange={(e) => settings().setShowNanodet(e.target.checked)}
          />
          <span>Show NanoDet's own head as a third baseline panel</span>
        </label>
      </fieldset>
      <fieldset>
        <legend>LORS model (live compression)</legend>
        <div className="radio-row" role="radiogroup" aria-label="Source of the LORS panel">
          <label className="check">
            <input
              type="radio"
              name="lors-source"
              checked={lorsSource === 'trained'}
              data-testid="lors-source-trained"
              disabled={!sources.trained}
              onChange={() => settings().setLorsSource('trained')}
            />
            <span>trained LORS</span>
          </label>
          <label
            className="check"
            title={sources.compressed ? undefined : 'models/lors-from-vanilla/ is not on the server'}
          >
            <input
              type="radio"
              name="lors-source"
              checked={lorsSource === 'compressed'}
              data-testid="lors-source-vanilla"
              disabled={!sources.compressed}
              onChange={() => settings().setLorsSource('compressed')}
            />
            <span>vanilla compressed to LORS</span>
          </label>
        </div>
        <RankSlider part="A" value={run.rankA} max={lim.rankA} onChange={(rankA) => settings().setSliders({ rankA })} />
        <RankSlider part="T" value={run.rankT} max={lim.rankT} onChange={(rankT) => settings().setSliders({ rankT })} />
        <div className="radio-row" role="radiogroup" aria-label="Groups K of LORS^A">
          <label className="check">
            <input
              type="radio"
              name="groups-mode"
              checked={groupsMode === 'uniform'}
              data-testid="groups-uniform"
              onChange={() => settings().setSliders({ groupsMode: 'uniform' })}
            />
            <span>one K for all stages</span>
          </label>
          <label className="check">
            <input
              type="radio"
              name="groups-mode"
              checked={groupsMode === 'schedule'}
              data-testid="groups-schedule"
              onChange={() => settings().setSliders({ groupsMode: 'schedule' })}
            />
            <span>paper's schedule [{PAPER_GROUPS.join(', ')}]</span>
          </label>
        </div>
        <label className="field">
          <span>
            Groups K of LORS<sup>A</sup>{' '}
            <output>{groupsMode === 'uniform' ? Math.max(...run.groupsA) : 'schedule'}</output>{' '}
            <span className="muted small">(each stage at most its stored K)</span>
          </span>
          <input
            type="range"
            min={1}
            max={maxK}
            step={1}
            value={Math.max(...run.groupsA)}
            data-testid="slider-groups"
            disabled={groupsMode !== 'uniform'}
            onChange={(e) => settings().setSliders({ groupsK: Number(e.target.value) })}
          />
        </label>
        <details className="muted small">
          <summary>What the sliders do</summary>
          The LORS panel runs a slice of importance-ordered factors: the trained LORS model re-expressed exactly (SVD
          for LORS<sup>T</sup>, QR + HOSVD for LORS<sup>A</sup>), or the trained vanilla model compressed into LORS
          (shared = mean of the stages, private = low-rank fits of each stage's residual). Moving a slider cuts the
          factors to that rank / group count and re-runs only the LORS decoder on the cached backbone features.
        </details>
      </fieldset>
    </section>
  );
}

/** The rank slider of LORS^A or LORS^T: the rank that runs, of at most the source's stored factors. */
function RankSlider(p: { part: 'A' | 'T'; value: number; max: number; onChange: (rank: number) => void }) {
  const id = p.part.toLowerCase();
  return (
    <label className="field">
      <span>
        Rank of LORS<sup>{p.part}</sup> (r<sub>{p.part}</sub>){' '}
        <output data-testid={`rank-${id}-value`}>{p.value}</output> <span className="muted small">of {p.max}</span>
      </span>
      <input
        type="range"
        min={1}
        max={p.max}
        step={1}
        value={p.value}
        data-testid={`slider-rank-${id}`}
        onChange={(e) => p.onChange(Number(e.target.value))}
      />
    </label>
  );
}
