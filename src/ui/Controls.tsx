import { useId, type InputHTMLAttributes, type ReactNode } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { COCO_CLASSES } from '../model/cocoFormat';
import { PAPER_GROUPS } from '../model/config';
import { countParameters } from '../model/params';
import { useLorsSelection } from '../state/lorsSlice';
import { useModels } from '../state/modelStatus';
import { DECODER_STAGES, MAX_RESULTS_LIMIT, useSettings, settingsStore, type SettingsState } from '../state/settings';
import { formatCount } from './format';

const settings = () => settingsStore.getState();
const shown = (s: SettingsState) => ({
  threshold: s.scoreThreshold,
  classFilter: s.classFilter,
  showNanodet: s.showNanodet,
  groupsMode: s.groupsMode,
  stage: s.decoderStage,
  showAgreement: s.showAgreement,
  maxResults: s.maxResults,
  displayNms: s.displayNms,
});

/** A slider with its visible label (its accessible name), its value, and a one-line description (a tooltip). */
function SliderField(p: {
  label: ReactNode;
  value: ReactNode;
  valueTestId?: string;
  after?: ReactNode;
  hint: ReactNode;
  hintId?: string;
  input: Omit<InputHTMLAttributes<HTMLInputElement>, 'type' | 'id'> & { 'data-testid': string };
}) {
  const id = useId();
  const hintId = p.hintId ?? `${id}-hint`;
  return (
    <div className="field slider-field">
      <div className="field-head">
        <label htmlFor={id}>{p.label}</label>
        <output htmlFor={id} data-testid={p.valueTestId}>
          {p.value}
        </output>
        {p.after && <span className="muted small">{p.after}</span>}
      </div>
      <input id={id} type="range" aria-describedby={hintId} {...p.input} />
      <span id={hintId} className="hint" role="tooltip">
        {p.hint}
      </span>
    </div>
  );
}

export function Controls() {
  const { threshold, classFilter, showNanodet, groupsMode, stage, showAgreement, maxResults, displayNms } = useSettings(
    useShallow(shown),
  );
  const sources = useModels((s) => s.lorsSources);
  const ready = useModels((s) => s.phase === 'ready');
  const vanillaConfig = useModels((s) => s.decoders.vanilla?.config);
  // The sliders reach as far as the source's stored factors and show the slice that runs.
  const { source: lorsSource, limits, config } = useLorsSelection();
  const [lim, run] = [limits.lors!, config.lors!];
  const maxK = Math.max(...lim.groupsA);
  // Until the models are loaded the ranges are not known: placeholders, not numbers.
  const known = ready && !!sources[lorsSource];
  const lorsParams = countParameters(config).decoder;
  const share = vanillaConfig ? (100 * lorsParams) / countParameters(vanillaConfig).decoder : null;
  return (
    <section className="controls" aria-label="Controls">
      <fieldset>
        <legend>Display</legend>
        <SliderField
          label="Score threshold"
          value={threshold.toFixed(2)}
          valueTestId="score-threshold-value"
          hint="Boxes scoring below this are hidden (nothing re-runs)."
          input={{
            min: 0,
            max: 1,
            step: 0.01,
            value: threshold,
            'data-testid': 'score-threshold',
            onChange: (e) => settings().setScoreThreshold(Number(e.target.value)),
          }}
        />
        <SliderField
          label="Boxes per panel at most"
          value={maxResults}
          valueTestId="max-results-value"
          hint="Each panel draws and lists only its best boxes (nothing re-runs)."
          input={{
            min: 1,
            max: MAX_RESULTS_LIMIT,
            step: 1,
            value: maxResults,
            'data-testid': 'max-results',
            onChange: (e) => settings().setMaxResults(Number(e.target.value)),
          }}
        />
        <label className="check">
          <input
            type="checkbox"
            checked={displayNms}
            data-testid="toggle-nms"
            onChange={(e) => settings().setDisplayNms(e.target.checked)}
          />
          <span>Merge overlapping boxes of a class (NMS, display only; off: the raw decoder output)</span>
        </label>
        <SliderField
          label="Decoder stage"
          value={stage}
          valueTestId="stage-value"
          after={`of ${DECODER_STAGES}${stage === DECODER_STAGES ? ' (the output)' : ''}`}
          hintId="stage-hint"
          hint={`Boxes are refined over ${DECODER_STAGES} stacked stages, the stages LORS shares weights across.`}
          input={{
            min: 1,
            max: DECODER_STAGES,
            step: 1,
            value: stage,
            'data-testid': 'stage-scrubber',
            onChange: (e) => settings().setDecoderStage(Number(e.target.value)),
          }}
        />
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
      <fieldset className="lors-controls" aria-describedby="lors-readout">
        <legend>LORS model (live compression)</legend>
        <p className="lors-readout" id="lors-readout" data-testid="lors-readout" data-value={known ? lorsParams : ''}>
          {known ? (
            <>
              <strong>{formatCount(lorsParams)}</strong> decoder params
              {share !== null && (
                <>
                  , <strong>{share.toFixed(1)}%</strong> of vanilla
                </>
              )}
            </>
          ) : (
            <span className="muted">decoder params: loading…</span>
          )}
        </p>
        <RankSlider
          part="A"
          known={known}
          value={run.rankA}
          max={lim.rankA}
          hint="Rank of each stage's private part of the mixing-weight generator: lower is smaller."
          onChange={(rankA) => settings().setSliders({ rankA })}
        />
        <RankSlider
          part="T"
          known={known}
          value={run.rankT}
          max={lim.rankT}
          hint="Rank of each stage's private part of the output layer: lower is smaller."
          onChange={(rankT) => settings().setSliders({ rankT })}
        />
        <div className="radio-row groups-row" role="radiogroup" aria-label="Groups K of LORS^A">
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
        <SliderField
          label={
            <>
              Groups K of LORS<sup>A</sup>
            </>
          }
          value={!known ? '…' : groupsMode === 'uniform' ? Math.max(...run.groupsA) : 'schedule'}
          after="(each stage at most its stored K)"
          hint="How many low-rank terms each stage adds to the shared mixing weights."
          input={{
            min: 1,
            max: maxK,
            step: 1,
            value: Math.max(...run.groupsA),
            'data-testid': 'slider-groups',
            disabled: groupsMode !== 'uniform',
            onChange: (e) => settings().setSliders({ groupsK: Number(e.target.value) }),
          }}
        />
        <div className="radio-row source-row" role="radiogroup" aria-label="Source of the LORS panel">
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
            title={!ready || sources.compressed ? undefined : 'models/lors-from-vanilla/ is not on the server'}
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
        <details className="muted small lors-about">
          <summary>What the sliders do</summary>
          The LORS panel runs a slice of importance-ordered factors: the trained LORS model re-expressed exactly (SVD
          for LORS<sup>T</sup>; for LORS<sup>A</sup> a QR decomposition and a higher-order SVD, HOSVD), or the trained
          vanilla model compressed into LORS (shared = mean of the stages, private = low-rank fits of each stage's
          residual). Moving a slider cuts the factors to that rank / group count and re-runs only the LORS decoder on
          the cached backbone features. Weight sizes are in int8 (8-bit weights, one scale per channel); “uncompressed”
          means before the download's DEFLATE compression.
        </details>
      </fieldset>
    </section>
  );
}

/** The rank slider of LORS^A or LORS^T: the rank that runs, of at most the source's stored factors. */
function RankSlider(p: {
  part: 'A' | 'T';
  known: boolean;
  value: number;
  max: number;
  hint: string;
  onChange: (rank: number) => void;
}) {
  const id = p.part.toLowerCase();
  return (
    <SliderField
      label={
        <>
          Rank r<sub>{p.part}</sub> of LORS<sup>{p.part}</sup>
        </>
      }
      value={p.known ? p.value : '…'}
      valueTestId={`rank-${id}-value`}
      after={`of ${p.known ? p.max : '…'}${p.known && p.value === 0 ? ' (shared only: no private part)' : ''}`}
      hint={p.hint}
      input={{
        min: 0,
        max: p.max,
        step: 1,
        value: p.value,
        'data-testid': `slider-rank-${id}`,
        onChange: (e) => p.onChange(Number(e.target.value)),
      }}
    />
  );
}
