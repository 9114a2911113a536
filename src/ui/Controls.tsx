import { COCO_CLASSES } from '../model/coco';
import { PAPER_GROUPS } from '../model/config';
import { useSettings, settingsStore } from '../state/settings';

const set = (patch: Parameters<ReturnType<typeof settingsStore.getState>['set']>[0]) => settingsStore.getState().set(patch);

export function Controls() {
  const threshold = useSettings((s) => s.scoreThreshold);
  const classFilter = useSettings((s) => s.classFilter);
  const showNanodet = useSettings((s) => s.showNanodet);
  const rankA = useSettings((s) => s.rankA);
  const rankT = useSettings((s) => s.rankT);
  const groupsMode = useSettings((s) => s.groupsMode);
  const groupsK = useSettings((s) => s.groupsK);
  return (
    <section className="controls" aria-label="Controls">
      <fieldset>
        <legend>Display</legend>
        <label className="field">
          <span>Score threshold <output data-testid="score-threshold-value">{threshold.toFixed(2)}</output></span>
          <input type="range" min={0} max={1} step={0.01} value={threshold} data-testid="score-threshold"
            onChange={(e) => set({ scoreThreshold: Number(e.target.value) })} />
        </label>
        <label className="field">
          <span>Class</span>
          <select data-testid="class-filter" value={classFilter === null ? '' : String(classFilter)}
            onChange={(e) => set({ classFilter: e.target.value === '' ? null : Number(e.target.value) })}>
            <option value="">all classes</option>
            {COCO_CLASSES.map((c, i) => <option key={c} value={i}>{c}</option>)}
          </select>
        </label>
        <label className="check">
          <input type="checkbox" checked={showNanodet} data-testid="toggle-nanodet" onChange={(e) => set({ showNanodet: e.target.checked })} />
          <span>Show NanoDet's own head as a third baseline panel</span>
        </label>
      </fieldset>
      <fieldset>
        <legend>LORS configuration (counted)</legend>
        <label className="field">
          <span>Rank of LORS<sup>A</sup> (r<sub>A</sub>) <output>{rankA}</output></span>
          <input type="range" min={1} max={32} step={1} value={rankA} data-testid="slider-rank-a"
            onChange={(e) => set({ rankA: Number(e.target.value) })} />
        </label>
        <label className="field">
          <span>Rank of LORS<sup>T</sup> (r<sub>T</sub>) <output>{rankT}</output></span>
          <input type="range" min={1} max={32} step={1} value={rankT} data-testid="slider-rank-t"
            onChange={(e) => set({ rankT: Number(e.target.value) })} />
        </label>
        <div className="radio-row" role="radiogroup" aria-label="Groups K of LORS^A">
          <label className="check">
            <input type="radio" name="groups-mode" checked={groupsMode === 'uniform'} data-testid="groups-uniform"
              onChange={() => set({ groupsMode: 'uniform' })} />
            <span>one K for all stages</span>
          </label>
          <label className="check">
            <input type="radio" name="groups-mode" checked={groupsMode === 'schedule'} data-testid="groups-schedule"
              onChange={() => set({ groupsMode: 'schedule' })} />
            <span>paper's schedule [{PAPER_GROUPS.join(', ')}]</span>
          </label>
        </div>
        <label className="field">
          <span>Groups K of LORS<sup>A</sup> <output>{groupsMode === 'uniform' ? groupsK : 'schedule'}</output></span>
          <input type="range" min={1} max={6} step={1} value={groupsK} data-testid="slider-groups" disabled={groupsMode !== 'uniform'}
            onChange={(e) => set({ groupsK: Number(e.target.value) })} />
        </label>
        <p className="muted small">
          These sliders change the configuration whose parameters are counted (panel and chart update at once) and re-run
          the LORS decoder on the cached backbone features. The detections themselves come from the loaded (trained)
          configuration; live compression to the chosen ranks lands later.
        </p>
      </fieldset>
    </section>
  );
}
