import { useEffect, useMemo, useRef, useState } from 'react';
import { makeConfig, type ModelConfig } from '../model/config';
import { countParameters } from '../model/params';
import { SLICED_SLOT, SLOT_VARIANTS } from '../model/constants';
import { encodedBytes } from '../model/weights/encoding';
import type { ModelName } from '../model/types';
import { detectionsToCoco } from '../model/cocoFormat';
import type { Detection } from '../model/types';
import { formatBytes, formatCount } from './format';
import { useLorsSelection } from '../state/lorsSlice';
import { useModels } from '../state/modelStatus';
import { useSession } from '../state/session';
import { DECODER_STAGES, useSettings } from '../state/settings';
import { diffDetections, movedBoxes } from './detectionDiff';
import { DetectionList } from './DetectionList';
import { download, drawOverlay, overlayPng, type OverlayMarks } from './draw';
import { LorsEffect } from './LorsEffect';
import { WeightsFailure } from './WeightsFailure';
import { useAgreement, useAgreementMatch } from './useAgreement';
import { useLorsEffect } from './useLorsEffect';
import { useDisplayFilter, usePanelDetections } from './usePanelDetections';

const TITLES: Record<ModelName, string> = {
  vanilla: 'Vanilla AdaMixer',
  lors: 'AdaMixer + LORS',
  nanodet: 'NanoDet head (baseline)',
};
const DISPLAY_MAX_SIDE = 1024;

/** COCO image id: the number in a COCO-style file name (000000397133.jpg), else the photo's sequence number. */
export function imageIdFor(name: string, fallback: number): number {
  const m = /^0*(\d{1,12})\.(jpe?g|png|webp)$/i.exec(name);
  return m ? Number(m[1]) : fallback;
}

function describeLors(cfg: ModelConfig): string {
  const l = cfg.lors;
  if (!l) return '';
  return `r_A=${l.rankA}, r_T=${l.rankT}, K=[${l.groupsA.join(',')}]`;
}

export function Panel({ model }: { model: ModelName }) {
  const photo = useSession((s) => s.photo);
  const result = useSession((s) => s.results[model]);
  const pending = useSession((s) => !!s.pending[model]);
  const filter = useDisplayFilter();
  const showBefore = useSettings((s) => s.showLorsBefore);
  const info = useModels((s) => (model === 'nanodet' ? undefined : s.decoders[model]));
  const phase = useModels((s) => s.phase);
  const decoderLoading = useModels((s) => (model === 'nanodet' ? undefined : s.decoderLoading[model]));
  const backboneParams = useModels((s) => s.backboneParams);
  const backboneBytes = useModels((s) => s.backboneBytes);
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const agreement = useAgreement();
  const matched = useAgreementMatch();
  const emphasis = model === 'nanodet' ? undefined : agreement?.emphasis[model];
  const agreedOrNot = model === 'nanodet' ? undefined : matched?.emphasis[model];
  const effect = useLorsEffect();
  const lorsEffect = model === SLICED_SLOT ? effect : null;
  const shown = usePanelDetections(model);
  const before = !!lorsEffect && showBefore && !lorsEffect.full && !!lorsEffect.reference;
  const [highlight, setHighlight] = useState<Detection | null>(null);
  const onlyHere = emphasis ? [...emphasis.values()].filter((e) => e === 'only').length : null;
  const stage = shown.stage;
  const stageText = stage !== null && stage !== DECODER_STAGES ? ` at stage ${stage} of ${DECODER_STAGES}` : '';
  const onlyText = onlyHere !== null ? `, ${onlyHere} found only by this decoder` : '';

  const dets = before ? lorsEffect.reference! : shown.dets;
  // What changed: against the full model (the sliders' effect), else against the previous stage (the trails).
  const stageDiff = useMemo(
    () =>
      shown.previous && stage !== null && stage < DECODER_STAGES ? diffDetections(shown.previous, shown.dets) : null,
    [shown, stage],
  );
  const marks = useMemo((): OverlayMarks => {
    const m: OverlayMarks = { highlight };
    if (emphasis) m.emphasis = emphasis;
    const diff = !before && lorsEffect?.diff ? lorsEffect.diff : stageDiff;
    if (diff && !before) {
      m.vanished = diff.vanished;
      m.appeared = new Set(diff.appeared);
      if (diff === stageDiff) m.trails = movedBoxes(diff).map((k) => ({ from: k.before.box, to: k.after.box }));
    }
    return m;
  }, [highlight, emphasis, before, lorsEffect, stageDiff]);
  const [labelRects, setLabelRects] = useState('[]');

  const sources = useModels((s) => s.lorsSources);
  const { source: lorsSource, config: countedLors } = useLorsSelection();
  const loadedConfig = useMemo(
    () => (model === 'nanodet' ? null : (info?.config ?? makeConfig('web', SLOT_VARIANTS[model]))),
    [info, model],
  );
  const sliced = model === SLICED_SLOT;
  const counted = sliced ? countedLors : loadedConfig;
  // Counted once the models are loaded (before, the backbone's size and the LORS source are not known).
  const counts = useMemo(
    () => (counted && phase === 'ready' && backboneParams > 0 ? countParameters(counted, backboneParams) : null),
    [counted, phase, backboneParams],
  );
  const sliceBytes = useMemo(() => (sliced && counted ? encodedBytes(counted, 'int8') : 0), [sliced, counted]);

  useEffect(() => {
    const canvas = canvasRef.current;
    if (!canvas || !photo?.bitmap) return;
    const f = Math.min(1, DISPLAY_MAX_SIDE / Math.max(photo.width, photo.height));
    canvas.width = Math.max(1, Math.round(photo.width * f));
    canvas.height = Math.max(1, Math.round(photo.height * f));
    const ctx = canvas.getContext('2d');
    if (!ctx) return;
    const { labels } = drawOverlay(ctx, photo.bitmap, dets, f, marks);
    const round = (v: number) => Math.round(v * 10) / 10;
    setLabelRects(JSON.stringify(labels.flatMap((r) => (r ? [[round(r.x), round(r.y), round(r.w), round(r.h)]] : []))));
  }, [photo, dets, marks]);
  useEffect(() => setHighlight(null), [dets]);

  const scaleToOriginal = photo ? photo.originalWidth / photo.width : 1;
  const base = photo ? photo.name.replace(/\.[^.]+$/, '') : 'photo';
  const exportJson = () => {
    if (!photo) return;
    const r = (v: number, k: number) => Math.round(v * k) / k;
    const coco = detectionsToCoco(dets, imageIdFor(photo.name, photo.id), scaleToOriginal, scaleToOriginal).map(
      (d, i) => ({ ...d, category_name: dets[i]!.name, bbox: d.bbox.map((v) => r(v, 100)), score: r(d.score, 1e5) }),
    );
    const json = JSON.stringify(coco, null, 1);
    download(new Blob([json], { type: 'application/json' }), `${base}-${model}-detections.json`);
  };
  const exportPng = async () => {
    if (!photo?.bitmap) return;
    download(await overlayPng(photo.bitmap, dets, exportLegend()), `${base}-${model}-overlay.png`);
  };
  /** The PNG's legend: model (and slice), stage, display settings. */
  const exportLegend = (): string[] => {
    const title =
      model === SLICED_SLOT
        ? `${TITLES.lors}${before ? ' (full model)' : ''} — ${lorsSource === 'trained' ? 'trained LORS' : 'vanilla compressed to LORS'}, ${describeLors(before ? (sources[lorsSource]?.config ?? counted!) : counted!)}`
        : TITLES[model];
    const st = stage !== null ? `stage ${stage} of ${DECODER_STAGES} · ` : '';
    return [
      title,
      `${st}score ≥ ${filter.threshold.toFixed(2)} · top ${filter.maxResults}${filter.nms ? ' · class-wise NMS' : ''} · ${dets.length} boxes`,
    ];
  };

  const untrained = info && !info.trained;
  const notLoaded = !!info?.failed || !!decoderLoading;
  const waiting = photo && !result && phase !== 'error' && !notLoaded;
  const stale = pending && !!result;
  const listId = `detections-${model}`;
  return (
    <article
      className={`panel panel-${model}${stale ? ' panel-stale' : ''}`}
      data-testid={`panel-${model}`}
      aria-label={TITLES[model]}
      aria-busy={pending ? 'true' : 'false'}
    >
      <header className="panel-head">
        <h2>
          {TITLES[model]}
          {sliced && lorsSource === 'compressed' && sources.compressed ? ' — vanilla compressed' : ''}
        </h2>
        {model !== 'nanodet' && info && (
          <span
            className={`badge ${untrained ? 'badge-warn' : 'badge-ok'}`}
            data-testid={`badge-${model}`}
            title={info.note}
          >
            {info.failed
              ? 'weights not loaded'
              : untrained
                ? 'untrained (seeded initial weights)'
                : sliced && lorsSource === 'compressed' && sources.compressed
                  ? 'compressed from trained vanilla'
                  : 'trained weights'}
          </span>
        )}
        {stale && (
          <span className="badge badge-updating" data-testid={`updating-${model}`}>
            updating…
          </span>
        )}
        {before && (
          <span className="badge badge-before" data-testid="badge-lors-before">
            before: full model
          </span>
        )}
        {stage !== null && stage !== DECODER_STAGES && result && (
          <span className="badge badge-stage" data-testid={`stage-badge-${model}`}>
            stage {stage} of {DECODER_STAGES}
          </span>
        )}
      </header>
      {model !== 'nanodet' && <WeightsFailure model={model} />}
      <div className="canvas-wrap">
        {photo ? (
          <canvas
            ref={canvasRef}
            data-testid={`canvas-${model}`}
            data-boxes={dets.length}
            data-stage={stage ?? undefined}
            data-only={onlyHere ?? undefined}
            data-labels={labelRects}
            data-stale={stale ? 'true' : undefined}
            aria-label={`${TITLES[model]}: ${dets.length} detections${stageText}${onlyText}`}
            aria-describedby={result ? listId : undefined}
          />
        ) : (
          <div className="placeholder">
            {phase === 'ready' || phase === 'error'
              ? 'Drop a photo or pick a sample'
              : 'Loading the models… a sample photo runs by itself when they are ready'}
          </div>
        )}
        {waiting && <div className="canvas-busy">detecting…</div>}
      </div>
      {stageDiff && (
        <p className="muted small" data-testid={`stage-diff-${model}`}>
          Stage {stage} vs {stage! - 1}: {movedBoxes(stageDiff).length} moved, +{stageDiff.appeared.length} new, −
          {stageDiff.vanished.length} gone (white: where they were)
        </p>
      )}
      {lorsEffect && result && <LorsEffect effect={lorsEffect} />}
      {result && (
        <DetectionList
          id={listId}
          testid={`list-${model}`}
          title={TITLES[model]}
          dets={dets}
          {...(agreedOrNot && !before ? { agreement: agreedOrNot } : {})}
          {...(marks.appeared && lorsEffect?.diff && !before ? { appeared: marks.appeared } : {})}
          onHighlight={setHighlight}
        />
      )}
      <dl className="stats">
        <dt>{model === 'nanodet' ? 'Head + NMS' : 'Decoder'} latency</dt>
        <dd>
          <span data-testid={`latency-${model}`}>{result ? result.latencyMs.toFixed(1) : '–'}</span> ms{' '}
          <span className="muted small">
            (run <span data-testid={`run-${model}`}>{result?.run ?? 0}</span>)
          </span>
        </dd>
        <dt>Detections shown</dt>
        <dd data-testid={`count-${model}`}>{result ? dets.length : '–'}</dd>
        {model !== 'nanodet' && !counts && (
          <>
            <dt>Decoder params</dt>
            <dd className="muted">…</dd>
          </>
        )}
        {counts && (
          <>
            <dt>Decoder params</dt>
            <dd>
              <span data-testid={`params-${model}`} data-value={counts.decoder}>
                {formatCount(counts.decoder)}
              </span>{' '}
              <span className="muted small">({counts.decoder.toLocaleString('en-US')})</span>
            </dd>
            <dt>Total params</dt>
            <dd
              data-testid={`params-total-${model}`}
              data-value={counts.total}
              title="decoder + queries + neck + NanoDet backbone"
            >
              {formatCount(counts.total)}{' '}
              <span className="muted small">incl. backbone {formatCount(backboneParams)}</span>
            </dd>
          </>
        )}
        {model === 'nanodet' && (
          <>
            <dt>Params</dt>
            <dd data-testid="params-nanodet" data-value={backboneParams}>
              {backboneParams > 0 ? formatCount(backboneParams) : '…'}{' '}
              <span className="muted small">(whole NanoDet-g)</span>
            </dd>
          </>
        )}
        <dt>Weights</dt>
        <dd data-testid={`weights-${model}`}>
          {model === 'nanodet'
            ? backboneBytes > 0
              ? formatBytes(backboneBytes)
              : '…'
            : sliced && sources[lorsSource]
              ? formatBytes(sources[lorsSource]!.weightBytes)
              : info && !info.failed
                ? formatBytes(info.weightBytes)
                : '–'}
          {info && !info.trained && !info.failed && <span className="muted small"> (its int8 size, uncompressed)</span>}
          {sliced && counted && sources[lorsSource] && (
            <span className="muted small">
              {' '}
              (download, all ranks) · this slice in int8, uncompressed: {formatBytes(sliceBytes)}
            </span>
          )}
        </dd>
      </dl>
      {sliced && loadedConfig && phase === 'ready' && (
        <p className="muted small" data-testid="lors-note" data-config={describeLors(loadedConfig)}>
          Running {describeLors(loadedConfig)}
          {sources[lorsSource]
            ? `: the leading components of the ${lorsSource === 'trained' ? 'trained LORS model' : 'vanilla model compressed into LORS'} (factors stored in importance order; the sliders cut them live).`
            : ' (no ordered LORS weights on the server: the sliders only change the counted configuration).'}
        </p>
      )}
      <div className="exports">
        <button type="button" onClick={exportJson} disabled={!result} data-testid={`export-json-${model}`}>
          Detections (COCO JSON)
        </button>
        <button type="button" onClick={() => void exportPng()} disabled={!result} data-testid={`export-png-${model}`}>
          Overlay (PNG)
        </button>
      </div>
    </article>
  );
}
