// The centre canvas: the image, the focused map over it (aligned through the engine's
// ImageTransform), zoom (wheel, buttons) and pan (drag), hover readout, colour bar, and
// for non-local modules a click that queries that point's attention row.
import { useCallback, useEffect, useRef, useState, type PointerEvent as RPointerEvent, type WheelEvent as RWheelEvent } from 'react';
import { origToCell, sampleAt, mapDims } from '../lib/heatmap';
import { formatValue } from '../lib/range';
import { useDisplayed } from '../hooks/useDisplayed';
import { useActions, useApp } from '../store';
import { selectCurrentImage } from '../store/selectors';
import { ColorBar } from './ColorBar';
import { GridOverlay } from './TransformView';
import { HeatmapCanvas } from './HeatmapCanvas';
import { AlertIcon, FitIcon, MinusIcon, PlusIcon } from './Icons';

const NORM_CAPTION = { raw: 'raw value', minmax: 'min–max (this map)', stage: 'shared across stage' } as const;

function useSize(ref: React.RefObject<HTMLElement | null>): { w: number; h: number } {
  const [size, setSize] = useState({ w: 800, h: 600 });
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const measure = () => setSize({ w: el.clientWidth || 800, h: el.clientHeight || 600 });
    measure();
    if (typeof ResizeObserver === 'undefined') return;
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, [ref]);
  return size;
}

export function ImageView() {
  const a = useActions();
  const image = useApp(selectCurrentImage);
  const runImageId = useApp((s) => s.run.imageId);
  const transform = useApp((s) => s.run.transform);
  const runSeq = useApp((s) => s.run.seq);
  const status = useApp((s) => s.run.status);
  const received = useApp((s) => s.run.received);
  const total = useApp((s) => s.run.total);
  const runError = useApp((s) => s.run.error);
  const focusedTap = useApp((s) => s.modules.focused?.tap ?? null);
  const focusedModule = useApp((s) => s.modules.focused?.module ?? null);
  const opacity = useApp((s) => s.settings.opacity);
  const interpolation = useApp((s) => s.settings.interpolation);
  const normalisation = useApp((s) => s.settings.normalisation);
  const showColorbar = useApp((s) => s.settings.showColorbar);
  const zoom = useApp((s) => s.ui.zoom);
  const pan = useApp((s) => s.ui.pan);
  const query = useApp((s) => s.analysis.query);
  const samplingGrid = useApp((s) => (s.modules.focused && (s.modules.focused.tap === 'grid' || s.modules.focused.tap === 'affine') ? s.run.taps[s.modules.focused.module]?.grid ?? null : null));
  const queryStep = useApp((s) => (s.analysis.query ? s.analysis.queryStep[s.analysis.query.module] : undefined));
  const bypassed = useApp((s) => (s.modules.focused ? s.run.bypass.includes(s.modules.focused.module) : false));
  const { shown, range, colormap } = useDisplayed();

  const vpRef = useRef<HTMLDivElement>(null);
  const stageRef = useRef<HTMLDivElement>(null);
  const vp = useSize(vpRef);
  const [natural, setNatural] = useState<{ w: number; h: number } | null>(null);
  const drag = useRef<{ x: number; y: number; pan: { x: number; y: number }; moved: boolean } | null>(null);
  const [dragging, setDragging] = useState(false);

  useEffect(() => setNatural(null), [image?.id]);

  const t = runImageId === image?.id ? transform : null;
  const origW = t?.origWidth ?? natural?.w ?? 0;
  const origH = t?.origHeight ?? natural?.h ?? 0;
  // The colour bar sits in a strip on the right; the image is fitted beside it.
  const barSpace = showColorbar ? 84 : 0;
  // Room above for the caption and below for the zoom controls.
  const fit = origW && origH ? Math.min((vp.w - 48 - barSpace) / origW, (vp.h - 96) / origH) : 1;
  const bw = origW * fit;
  const bh = origH * fit;
  const isQuery = focusedTap === 'attention';

  const toOrig = useCallback((clientX: number, clientY: number) => {
    const r = stageRef.current?.getBoundingClientRect();
    if (!r || r.width === 0 || !origW) return null;
    const x = ((clientX - r.left) / r.width) * origW;
    const y = ((clientY - r.top) / r.height) * origH;
    return x >= 0 && y >= 0 && x <= origW && y <= origH ? { x, y } : null;
  }, [origW, origH]);

  const onWheel = (e: RWheelEvent) => {
    const el = vpRef.current;
    if (!el) return;
    const r = el.getBoundingClientRect();
    const sx = e.clientX - r.left - (vp.w - barSpace) / 2;
    const sy = e.clientY - r.top - vp.h / 2;
    const next = Math.min(32, Math.max(0.1, zoom * Math.exp(-e.deltaY * 0.0015)));
    const ux = (sx - pan.x) / zoom;
    const uy = (sy - pan.y) / zoom;
    a.setView(next, { x: sx - next * ux, y: sy - next * uy });
  };

  const zoomBy = (f: number) => {
    const next = Math.min(32, Math.max(0.1, zoom * f));
    a.setView(next, { x: (pan.x * next) / zoom, y: (pan.y * next) / zoom });
  };

  const onPointerDown = (e: RPointerEvent) => {
    if (e.button !== 0) return;
    drag.current = { x: e.clientX, y: e.clientY, pan, moved: false };
    (e.target as Element).setPointerCapture?.(e.pointerId);
  };
  const onPointerMove = (e: RPointerEvent) => {
    const d = drag.current;
    if (d) {
      const dx = e.clientX - d.x;
      const dy = e.clientY - d.y;
      if (!d.moved && Math.hypot(dx, dy) > 3) { d.moved = true; setDragging(true); }
      if (d.moved) { a.setView(zoom, { x: d.pan.x + dx, y: d.pan.y + dy }); return; }
    }
    const p = toOrig(e.clientX, e.clientY);
    if (!p || !shown || !t) { a.setHover(null); return; }
    const { h, w } = mapDims(shown.map);
    const c = origToCell(t, h, w, p.x, p.y);
    const row = Math.min(h - 1, Math.max(0, Math.floor(c.cy + 0.5)));
    const col = Math.min(w - 1, Math.max(0, Math.floor(c.cx + 0.5)));
    a.setHover({ x: p.x, y: p.y, value: c.inside ? sampleAt(shown.map, c.cx, c.cy, interpolation) : null, row, col });
  };
  const onPointerUp = (e: RPointerEvent) => {
    const d = drag.current;
    drag.current = null;
    setDragging(false);
    if (!d || d.moved) return;
    if (isQuery && focusedModule) {
      const p = toOrig(e.clientX, e.clientY);
      if (p) void a.queryPoint(focusedModule, p);
    }
  };

  const onPainted = useCallback(() => {
    a.markHeatmapPainted(runSeq);
  }, [a, runSeq]);

  if (!image) return null;
  const marker = isQuery && query && query.module === focusedModule && origW
    ? { left: `${(query.point.x / origW) * 100}%`, top: `${(query.point.y / origH) * 100}%` }
    : null;
  const progress = total > 0 ? received / total : 0;

  return (
    <div
      ref={vpRef}
      className={`viewport${dragging ? ' dragging' : ''}${isQuery && !dragging ? ' query' : ''}`}
      data-testid="viewport"
      onWheel={onWheel}
      onPointerDown={onPointerDown}
      onPointerMove={onPointerMove}
      onPointerUp={onPointerUp}
      onPointerLeave={() => a.setHover(null)}
      onDoubleClick={() => a.resetView()}
    >
      {status === 'running' && (
        <div className="runbar"><div className={`progress${total ? '' : ' indeterminate'}`}><div style={{ width: `${progress * 100}%` }} /></div></div>
      )}
      <div
        ref={stageRef}
        className="stagebox"
        data-testid="stage"
        style={{ left: (vp.w - barSpace - bw) / 2, top: (vp.h - bh) / 2, width: bw, height: bh, transform: `translate(${pan.x}px, ${pan.y}px) scale(${zoom})`, visibility: origW ? 'visible' : 'hidden' }}
      >
        {image.url
          ? <img src={image.url} alt={image.name} draggable={false} data-testid="image"
              onLoad={(e) => setNatural({ w: e.currentTarget.naturalWidth, h: e.currentTarget.naturalHeight })} />
          : <div className="noimg">{image.name}</div>}
        {shown && t && range && (
          <HeatmapCanvas map={shown.map} transform={t} range={range} colormap={colormap}
            interpolation={interpolation} opacity={opacity} onPainted={onPainted} testId="overlay" />
        )}
        {samplingGrid && t && <GridOverlay grid={samplingGrid} transform={t} />}
        {marker && <div className="marker" data-testid="query-marker" style={{ ...marker, transform: `scale(${1 / zoom})` }} />}
      </div>

      {shown && (
        <div className="caption" data-testid="caption">
          <div><span className="n">{shown.module}</span> {shown.label}{bypassed && <span className="badge warn" style={{ marginLeft: 8 }} title="Computed, but not applied in this run">bypassed</span>}</div>
          {isQuery && query?.steps && query.module === shown.module && shown.query && (
            <div className="seg steps" role="group" aria-label="Pass" data-testid="query-steps" onPointerDown={(e) => e.stopPropagation()} onPointerUp={(e) => e.stopPropagation()}>
              {[...query.steps.map((s) => s.label), query.label ?? 'after all passes'].map((label, i) => (
                <button key={label} aria-pressed={i === Math.min(queryStep ?? query.steps!.length, query.steps!.length)}
                  title="P cycles the passes" onClick={() => a.pickQueryStep(shown.module, i)}>{label}</button>
              ))}
            </div>
          )}
          {isQuery && <div className="hint">{shown.query ? 'Click elsewhere to move the query · Esc for the summary map' : 'Click a point to see where it attends'}</div>}
        </div>
      )}
      {showColorbar && shown && range && <ColorBar colormap={colormap} range={range} caption={NORM_CAPTION[normalisation]} />}
      <HoverReadout />
      <div className="zoombox" onPointerDown={(e) => e.stopPropagation()} onPointerUp={(e) => e.stopPropagation()}>
        <button className="btn ghost icon small" title="Zoom out" onClick={() => zoomBy(1 / 1.25)}><MinusIcon size={14} /></button>
        <span className="mono">{Math.round(zoom * fit * 100)}%</span>
        <button className="btn ghost icon small" title="Zoom in" onClick={() => zoomBy(1.25)}><PlusIcon size={14} /></button>
        <button className="btn ghost icon small" title="Fit (F, or double-click)" onClick={() => a.resetView()}><FitIcon size={14} /></button>
      </div>
      {runError && (
        <div className="banner error" role="alert" onPointerDown={(e) => e.stopPropagation()} onPointerUp={(e) => e.stopPropagation()}>
          <AlertIcon size={18} className="danger" />
          <div>
            <div className="t">{runError.message}</div>
            <div className="h">{runError.hint ?? 'Check the image opens in another viewer, or try another image.'}</div>
          </div>
          <div className="actions">
            <button className="btn small" onClick={() => void a.runCurrent()}>Try again</button>
            <button className="btn small" onClick={() => a.removeImage(image.id)}>Remove image</button>
          </div>
        </div>
      )}
    </div>
  );
}

function HoverReadout() {
  const hover = useApp((s) => s.ui.hover);
  if (!hover) return null;
  return (
    <div className="readout" data-testid="readout">
      <span>x <b>{Math.floor(hover.x)}</b> y <b>{Math.floor(hover.y)}</b></span>
      <span>cell <b>{hover.row},{hover.col}</b></span>
      <span>value <b>{hover.value === null ? '—' : formatValue(hover.value)}</b></span>
    </div>
  );
}
