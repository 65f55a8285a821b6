// Right panel, for a module whose maps come in K components (the `maps` / `weights` taps
// [K, H, W]: EMANet's bases, A2-Net's gather maps and distribute weights): every component as
// a small heatmap; a click shows that one on the image.
import { useEffect, useRef } from 'react';
import type { TapName } from '../../engine/protocol';
import { dataRange, drawCells, type MapData } from '../lib/heatmap';
import { useActions, useApp } from '../store';
import { componentMap, selectColormap, selectFocusedModule } from '../store/selectors';

const CELL = 52;

function Thumb({ map, lut, selected, label, onPick }: { map: MapData; lut: ArrayLike<number>; selected: boolean; label: string; onPick: () => void }) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    if (ref.current) drawCells(ref.current, map, dataRange(map.data), lut);
  }, [map, lut]);
  return (
    <button className={`comp-thumb${selected ? ' sel' : ''}`} onClick={onPick} title={label} aria-pressed={selected} aria-label={label}
      style={{ padding: 0, border: selected ? '2px solid var(--accent, #4c8dff)' : '2px solid transparent', borderRadius: 4, background: 'none', cursor: 'pointer' }}>
      <canvas ref={ref} style={{ width: CELL, height: CELL, imageRendering: 'pixelated', display: 'block', borderRadius: 2 }} />
    </button>
  );
}

export function ComponentsGrid() {
  const a = useActions();
  const m = useApp(selectFocusedModule);
  const focusedTap = useApp((s) => s.modules.focused?.tap);
  const tap: 'maps' | 'weights' = focusedTap === 'weights' ? 'weights' : 'maps';
  const all = useApp((s) => (m ? s.run.taps[m.name]?.[tap as TapName] ?? null : null));
  const picked = useApp((s) => (m ? s.analysis.component[m.name] ?? 0 : 0));
  const colormap = useApp(selectColormap);
  if (!m) return null;
  if (!all) return <div className="placeholder">Open an image to see its components.</div>;
  const k = all.shape[0] as number;
  const showing = focusedTap === 'maps' || focusedTap === 'weights';
  return (
    <div data-testid="components-grid">
      {m.taps.includes('weights') && (
        <div className="seg" role="group" aria-label="Components" style={{ marginBottom: 6 }}>
          {(['maps', 'weights'] as const).map((t) => (
            <button key={t} aria-pressed={tap === t} onClick={() => a.pickComponent(m.name, t, picked)}>{t === 'maps' ? 'Gather maps' : 'Distribute weights'}</button>
          ))}
        </div>
      )}
      <div style={{ display: 'grid', gridTemplateColumns: `repeat(auto-fill, ${CELL + 4}px)`, gap: 4 }}>
        {Array.from({ length: k }, (_, i) => (
          <Thumb key={i} map={componentMap(all, i)} lut={colormap.lut} selected={showing && i === picked}
            label={`${tap === 'maps' ? 'Component' : 'Weight on component'} ${i + 1} of ${k}`} onPick={() => a.pickComponent(m.name, tap, i)} />
        ))}
      </div>
      <div className="chart-hover"><span className="faint">{k} components, each min-max scaled · click one to see it on the image</span></div>
    </div>
  );
}
