// Attention next to class evidence: the focused attention map, a class-activation map of the
// same run (engine/cam.ts, asked for through the `cam` request) and their difference, with
// how far they agree (common/agreement.ts). The class is the top prediction, or the one the
// user clicked in Predictions.
import { useMemo } from 'react';
import { agreement, difference } from '../../common/agreement';
import type { ImageTransform } from '../../engine/protocol';
import type { Colormap } from '../lib/colormap';
import { cellRect, dataRange, type MapData, type Range } from '../lib/heatmap';
import { useActions, useApp } from '../store';
import { CAM_LABELS, CAM_METHODS } from '../store/persist';
import { selectColormap, selectCurrentImage } from '../store/selectors';
import { useDisplayed } from '../hooks/useDisplayed';
import { HeatmapCanvas } from './HeatmapCanvas';

/** Blue (attention stronger) - white - red (class evidence stronger), for the difference in [-1, 1]. */
const DIVERGING: Colormap = {
  name: 'diverging',
  lut: (() => {
    const lut = new Uint8Array(256 * 3);
    for (let i = 0; i < 256; i++) {
      const t = i / 255;
      const [r, g, b] = t < 0.5
        ? [255 * (t * 2), 255 * (t * 2), 255] // blue -> white
        : [255, 255 * (2 - t * 2), 255 * (2 - t * 2)]; // white -> red
      lut.set([Math.round(r), Math.round(g), Math.round(b)], i * 3);
    }
    return lut;
  })(),
};

const UNIT: Range = { min: -1, max: 1 };
const fmt = (v: number): string => (Number.isFinite(v) ? v.toFixed(2) : '–');

export function CompareView() {
  const a = useActions();
  const image = useApp(selectCurrentImage);
  const transform = useApp((s) => (s.run.imageId === s.images.currentId ? s.run.transform : null));
  // The focused map coloured as the single view colours it (range by the normalisation setting).
  const { shown, range: shownRange } = useDisplayed();
  const cam = useApp((s) => s.analysis.cam);
  const camClass = useApp((s) => s.analysis.camClass);
  const predictions = useApp((s) => s.run.predictions);
  const classes = useApp((s) => s.model.info?.classes ?? null);
  const method = useApp((s) => s.settings.camMethod);
  const stage = useApp((s) => s.settings.camStage);
  // The model's own names of its four stages (s1..s4, stages.0.., blocks.1..), else layer1..layer4.
  const stageNames = useApp((s) => s.model.info?.stages);
  const stageName = (k: number): string => stageNames?.[k - 1] ?? `layer${k}`;
  const colormap = useApp(selectColormap);
  const interpolation = useApp((s) => s.settings.interpolation);
  const opacity = useApp((s) => s.settings.opacity);
  const tiled = !!transform?.tiles;

  const camMap = cam?.status === 'done' ? cam.map : null;
  const stats = useMemo(() => (shown && camMap ? agreement(shown.map, camMap) : null), [shown, camMap]);
  const diff = useMemo(() => (shown && camMap ? difference(shown.map, camMap) : null), [shown, camMap]);
  const classIndex = cam?.classIndex ?? camClass ?? predictions[0]?.index ?? null;
  const classLabel = classIndex === null ? '…' : classes?.[classIndex] ?? `class ${classIndex}`;

  return (
    <div className="compare" data-testid="compare">
      <div className="compare-bar">
        <label className="field">
          <span className="faint">Class evidence</span>
          <select className="select" aria-label="Class evidence method" value={method} onChange={(e) => a.setSetting('camMethod', e.target.value as typeof method)}>
            {CAM_METHODS.map((m) => <option key={m} value={m}>{CAM_LABELS[m]}</option>)}
          </select>
        </label>
        <div className="seg" role="group" aria-label="Class evidence stage">
          {[1, 2, 3, 4].map((k) => (
            <button key={k} aria-pressed={(method === 'cam' ? 4 : stage) === k} disabled={method === 'cam' && k !== 4}
              title={method === 'cam' ? 'CAM is defined on the last stage' : `The output of ${stageName(k)}`} onClick={() => a.setSetting('camStage', k)}>{stageName(k)}</button>
          ))}
        </div>
        <span className="faint">for</span>
        <b data-testid="cam-class">{method === 'dcn' ? 'no class (the prediction\'s entropy)' : classLabel}</b>
        {camClass !== null && <button className="link" onClick={() => a.setCamClass(null)}>top class</button>}
        <span className="faint compare-hint">Click a prediction to see another class.</span>
      </div>
      {tiled ? (
        <div className="placeholder">This run was tiled. Class evidence needs one pass over the image: switch tiles off (T).</div>
      ) : (
        <>
          <div className="compare-panels">
            <Panel title={shown ? `${shown.module} · ${shown.label}` : 'Attention'} testId="compare-attention"
              map={shown?.map ?? null} transform={transform} image={image?.url ?? null}
              range={shownRange} colormap={colormap} interpolation={interpolation} opacity={opacity}
              empty="Focus a module's map in the list." />
            <Panel title={`${CAM_LABELS[cam?.method ?? method]} · ${stageName(cam?.stage ?? stage)} · ${(cam?.method ?? method) === 'dcn' ? `entropy of the prediction, ${cam?.regions?.length ?? '…'} regions selected` : classLabel}`} testId="compare-cam"
              map={camMap} transform={transform} image={image?.url ?? null} regions={cam?.status === 'done' ? cam.regions : undefined}
              range={camMap ? dataRange(camMap.data) : null} colormap={colormap} interpolation={interpolation} opacity={opacity}
              empty={cam?.status === 'error' ? `${cam.error?.message ?? 'Failed.'}${cam.error?.hint ? ` ${cam.error.hint}` : ''}`
                : cam?.progress ? `Score-CAM: ${cam.progress.done}/${cam.progress.total} masked passes…` : 'Computing…'} />
            <Panel title="Difference (attention − evidence, each min–max)" testId="compare-diff"
              map={diff} transform={transform} image={image?.url ?? null} range={UNIT} colormap={DIVERGING}
              interpolation={interpolation} opacity={Math.max(opacity, 0.75)} empty="Both maps are needed." />
          </div>
          <div className="agreement" data-testid="agreement">
            {stats ? (
              <>
                <Figure label="Pearson" value={fmt(stats.pearson)} title="Linear correlation of the two maps on a common grid" />
                <Figure label="Spearman" value={fmt(stats.spearman)} title="Correlation of their ranks" />
                <Figure label="IoU top 20%" value={fmt(stats.iou)} title="Overlap of each map's top 20% cells" />
                <Figure label="Attention peak in evidence" value={stats.aPeakInB ? 'hit' : 'miss'} title="Pointing game: the attention map's peak inside the evidence's top 20%" />
                <Figure label="Evidence peak in attention" value={stats.bPeakInA ? 'hit' : 'miss'} title="Pointing game: the evidence map's peak inside the attention's top 20%" />
                <span className="faint">on a {stats.shape[0]}×{stats.shape[1]} grid{cam?.ms != null ? ` · ${cam.ms.toFixed(0)} ms` : ''}</span>
              </>
            ) : <span className="faint">Agreement appears when both maps are in.</span>}
          </div>
        </>
      )}
    </div>
  );
}

function Figure({ label, value, title }: { label: string; value: string; title: string }) {
  return <div className="figure" title={title}><span className="faint">{label}</span><b className="mono">{value}</b></div>;
}

interface PanelProps {
  title: string;
  testId: string;
  map: MapData | null;
  transform: ImageTransform | null;
  image: string | null;
  range: Range | null;
  colormap: Colormap;
  interpolation: 'bilinear' | 'nearest';
  opacity: number;
  empty: string;
  /** DCN: selected cells of the map's grid, drawn as boxes (the most salient one highlighted). */
  regions?: Array<{ row: number; col: number }> | undefined;
}

function Panel({ title, testId, map, transform, image, range, colormap, interpolation, opacity, empty, regions }: PanelProps) {
  const aspect = transform ? transform.origHeight / transform.origWidth : 0.75;
  return (
    <figure className="compare-panel" data-testid={testId}>
      <div className="pic" style={{ paddingTop: `${aspect * 100}%` }}>
        {image && <img src={image} alt="" draggable={false} />}
        {map && transform && range && (
          <HeatmapCanvas map={map} transform={transform} range={range} colormap={colormap} interpolation={interpolation} opacity={opacity} cap={512}
            testId={`${testId}-canvas`} />
        )}
        {map && transform && regions && (
          <svg className="regions" data-testid={`${testId}-regions`} viewBox={`0 0 ${transform.origWidth} ${transform.origHeight}`} preserveAspectRatio="none">
            {regions.map((g, i) => {
              const r = cellRect(transform, map.shape[0] as number, map.shape[1] as number, g.row, g.col);
              return (
                <rect key={`${g.row},${g.col}`} {...r} className={`region${i === 0 ? ' first' : ''}`} vectorEffect="non-scaling-stroke">
                  <title>{`region ${i + 1} of ${regions.length}: cell (${g.row}, ${g.col})`}</title>
                </rect>
              );
            })}
          </svg>
        )}
        {!map && <div className="pic-note">{empty}</div>}
      </div>
      <figcaption className="mono">{title}</figcaption>
    </figure>
  );
}
