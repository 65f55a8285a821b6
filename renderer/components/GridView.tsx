// Every visible module's map side by side, coloured with the same settings; a click
// focuses that module in the single view.
import { useMemo } from 'react';
import type { ModuleInfo } from '../../engine/protocol';
import { dataRange } from '../lib/heatmap';
import { displayRange } from '../lib/range';
import { CAM_LABELS } from '../store/persist';
import { useActions, useApp } from '../store';
import { groupByStage } from '../store/logic';
import { selectColormap, selectCurrentImage, thumbnailMap } from '../store/selectors';
import { HeatmapCanvas } from './HeatmapCanvas';
import { GridOverlay } from './TransformView';

export function GridView() {
  const info = useApp((s) => s.model.info);
  const hidden = useApp((s) => s.modules.hidden);
  if (!info) return null;
  const groups = groupByStage(info.modules.filter((m) => !hidden.includes(m.name)));
  if (groups.length === 0) {
    return <div className="empty"><div className="placeholder">Every module is hidden. Use “Show all” in the module list.</div></div>;
  }
  return (
    <div className="grid" data-testid="grid">
      {groups.map((g) => [
        <div className="stage-label" key={`l-${g.stage}`}>{g.stage}</div>,
        ...g.modules.map((m) => <Thumb key={m.name} m={m} />),
        <CamThumb key={`cam-${g.stage}`} stage={Number(g.stage.replace('layer', ''))} />,
      ])}
    </div>
  );
}

/** The stage's class evidence (settings' method, the class of the compare view), beside its attention maps. */
function CamThumb({ stage }: { stage: number }) {
  const a = useActions();
  const image = useApp(selectCurrentImage);
  const transform = useApp((s) => (s.run.imageId === s.images.currentId ? s.run.transform : null));
  const cam = useApp((s) => s.analysis.stageCams[stage] ?? null);
  const classes = useApp((s) => s.model.info?.classes ?? null);
  const colormap = useApp(selectColormap);
  const interpolation = useApp((s) => s.settings.interpolation);
  const opacity = useApp((s) => s.settings.opacity);
  const method = useApp((s) => s.settings.camMethod);
  if (!Number.isInteger(stage) || (method === 'cam' && stage !== 4)) return null;
  const map = cam?.status === 'done' ? cam.map : null;
  const range = map ? dataRange(map.data) : null;
  const aspect = transform ? transform.origHeight / transform.origWidth : 0.75;
  const label = cam ? classes?.[cam.classIndex] ?? `class ${cam.classIndex}` : '';
  return (
    <button className="thumb cam-thumb" data-testid={`stage-cam-${stage}`} title="Class evidence at this stage: open the compare view"
      onClick={() => { a.setSetting('camStage', stage); a.setSetting('layout', 'compare'); }}>
      <div className="pic" style={{ paddingTop: `${aspect * 100}%` }}>
        {image?.url && <img src={image.url} alt="" draggable={false} />}
        {map && transform && range && (
          <HeatmapCanvas map={map} transform={transform} range={{ min: range.min, max: range.max }} colormap={colormap}
            interpolation={interpolation} opacity={opacity} cap={240} />
        )}
      </div>
      <div className="cap">
        <span className="n">{CAM_LABELS[method]}</span>
        <span className="faint">{cam?.status === 'error' ? 'failed' : cam?.status === 'done' ? label : '…'}</span>
      </div>
    </button>
  );
}

function Thumb({ m }: { m: ModuleInfo }) {
  const a = useActions();
  const image = useApp(selectCurrentImage);
  const transform = useApp((s) => (s.run.imageId === s.images.currentId ? s.run.transform : null));
  const taps = useApp((s) => s.run.taps);
  const modules = useApp((s) => s.model.info?.modules);
  const focused = useApp((s) => s.modules.focused?.module === m.name);
  const bypassed = useApp((s) => s.run.bypass.includes(m.name));
  const colormap = useApp(selectColormap);
  const mode = useApp((s) => s.settings.normalisation);
  const interpolation = useApp((s) => s.settings.interpolation);
  const opacity = useApp((s) => s.settings.opacity);
  const shown = useApp((s) => thumbnailMap(s, m)?.map ?? null);
  const tap = useApp((s) => thumbnailMap(s, m)?.tap ?? null);
  const grid = useApp((s) => s.run.taps[m.name]?.grid ?? null);
  const range = useMemo(() => {
    if (!shown || !tap) return null;
    const peers = { modules: (modules ?? []).filter((x) => x.stage === m.stage), taps };
    return displayRange(mode, tap, shown, peers);
  }, [shown, tap, mode, modules, taps, m.stage]);
  const aspect = transform ? transform.origHeight / transform.origWidth : 0.75;
  return (
    <button className={`thumb${focused ? ' focused' : ''}`} data-module={m.name}
      onClick={() => { a.focus(m.name, tap ?? undefined); a.setSetting('layout', 'single'); }}>
      <div className="pic" style={{ paddingTop: `${aspect * 100}%` }}>
        {image?.url && <img src={image.url} alt="" draggable={false} />}
        {shown && transform && range && tap && (
          <HeatmapCanvas map={shown} transform={transform} range={range} colormap={colormap}
            interpolation={interpolation} opacity={opacity} cap={240} />
        )}
        {grid && transform && <GridOverlay grid={grid} transform={transform} />}
      </div>
      <div className="cap">
        <span className="n">{m.name}</span>
        {bypassed && <span className="badge warn">bypassed</span>}
        <span className="faint">{tap ?? '…'}</span>
      </div>
    </button>
  );
}
