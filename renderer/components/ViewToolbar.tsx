// Above the canvas: what is shown, and how it is coloured.
import type { ReactNode } from 'react';
import type { Interpolation, Normalisation } from '../lib/heatmap';
import { cssGradient } from '../lib/colormap';
import { useDisplayed } from '../hooks/useDisplayed';
import { useActions, useApp } from '../store';
import type { Layout } from '../store/types';
import { CompareIcon, GridIcon, SingleIcon } from './Icons';

const NORMS: Array<[Normalisation, string, string]> = [
  ['raw', 'Raw', 'Raw values: gates are sigmoid outputs in [0, 1]'],
  ['minmax', 'Min–max', 'Stretch each map to its own min and max'],
  ['stage', 'Stage', 'One range shared by every map of the stage'],
];

export function ViewToolbar() {
  const a = useActions();
  const s = useApp((st) => st.settings);
  const maps = useApp((st) => st.engine.colormaps);
  const { colormap } = useDisplayed();
  const seg = <T extends string>(value: T, options: Array<[T, ReactNode, string]>, set: (v: T) => void, label: string) => (
    <div className="seg" role="group" aria-label={label}>
      {options.map(([v, text, title]) => (
        <button key={v} aria-pressed={value === v} title={title} aria-label={typeof text === 'string' ? undefined : title} onClick={() => set(v)}>{text}</button>
      ))}
    </div>
  );
  return (
    <div className="viewbar">
      {seg<Layout>(s.layout, [['single', <SingleIcon key="s" size={14} />, 'One map, large'], ['grid', <GridIcon key="g" size={14} />, 'Every module side by side (G)'], ['compare', <CompareIcon key="c" size={14} />, 'Attention beside class evidence: Grad-CAM and its family (X)']], (v) => a.setSetting('layout', v), 'Layout')}
      <label className="field" title="Colormap (C cycles)">
        <span className="cmap-swatch" style={{ background: cssGradient(colormap, 'to right') }} />
        <select className="select" aria-label="Colormap" value={colormap.name} onChange={(e) => a.setSetting('colormap', e.target.value)}>
          {maps.map((m) => <option key={m.name} value={m.name}>{m.name}</option>)}
        </select>
      </label>
      <label className="field" title="Overlay opacity (+ / −)">
        <span className="opacity-label">Opacity</span>
        <input type="range" min={0} max={1} step={0.05} value={s.opacity} aria-label="Opacity"
          onChange={(e) => a.setSetting('opacity', Number(e.target.value))} />
        <span className="mono" style={{ width: 30 }}>{Math.round(s.opacity * 100)}%</span>
      </label>
      {seg<Normalisation>(s.normalisation, NORMS, (v) => a.setSetting('normalisation', v), 'Normalisation')}
      {seg<Interpolation>(s.interpolation, [['bilinear', 'Smooth', 'Bilinear upsampling'], ['nearest', 'Cells', 'Nearest: one block per map cell']], (v) => a.setSetting('interpolation', v), 'Interpolation')}
      <div className="seg" role="group" aria-label="Colour bar">
        <button aria-pressed={s.showColorbar} title="Show the colour bar with the value range" onClick={() => a.setSetting('showColorbar', !s.showColorbar)}>Scale</button>
      </div>
    </div>
  );
}
