// How the image is brought to the network: resized to the model's input square, or run in
// tiles at its own resolution with the maps stitched (engine/tiles.ts). Changing either
// re-runs; the overlay follows through the transform the engine reports.
import { useEffect, useState } from 'react';
import type { ResizeMode } from '../../engine/protocol';
import { useActions, useApp } from '../store';
import { type Parsed, parseInputSize, parseTriple } from '../store/logic';
import { TILE_SIZES } from '../store/persist';
import type { Preprocess } from '../store/types';

const MODES: Array<[ResizeMode, string, string]> = [
  ['stretch', 'Stretch', 'Resize to the input square, ignoring the aspect ratio'],
  ['pad', 'Pad', 'Keep the aspect ratio; letterbox the rest'],
  ['center-crop', 'Crop', 'Keep the aspect ratio; cut the sides that do not fit (no map there)'],
];

export function InputSettings() {
  const a = useActions();
  const resize = useApp((s) => s.settings.resize);
  const tile = useApp((s) => s.settings.tile);
  const inputSize = useApp((s) => s.model.info?.inputSize ?? null);
  const chosenSize = useApp((s) => s.model.preprocess.inputSize);
  const t = useApp((s) => (s.run.imageId === s.images.currentId ? s.run.transform : null));
  const tiles = t?.tiles;
  return (
    <>
      <div className="seg" role="group" aria-label="Resize mode">
        {MODES.map(([m, label, title]) => (
          <button key={m} aria-pressed={!tile && resize === m} disabled={tile > 0} title={tile ? 'Tiles run the image at its own resolution' : title}
            onClick={() => a.setSetting('resize', m)}>{label}</button>
        ))}
      </div>
      <div className="tiles-row">
        <span className="faint">Tiles</span>
        <div className="seg" role="group" aria-label="Tiles" title="Large images: run tiles of this size at the image's own resolution and stitch the maps (T)">
          {TILE_SIZES.map((size) => (
            <button key={size} aria-pressed={tile === size} data-testid={`tile-${size}`} title={size ? `${size} px tiles` : 'One pass at the model input size'}
              onClick={() => a.setSetting('tile', size)}>
              {size ? `${size}` : 'Off'}
            </button>
          ))}
        </div>
      </div>
      <PreprocessFields />
      <div className="note" data-testid="input-note">
        {tiles
          ? `Image ${t.origWidth}×${t.origHeight} in ${tiles.columns}×${tiles.rows} tiles of ${tiles.size} px (overlap ${tiles.overlap} px), at its own resolution.`
          : <>
            {chosenSize ? `Input ${chosenSize}×${chosenSize} (the model's: ${inputSize}).` : inputSize ? `Model input ${inputSize}×${inputSize}.` : ''}
            {t ? ` Image ${t.origWidth}×${t.origHeight} → ×${t.scaleX.toFixed(3)}${t.scaleX !== t.scaleY ? ` / ×${t.scaleY.toFixed(3)}` : ''}${t.offsetX || t.offsetY ? `, offset ${t.offsetX.toFixed(1)}, ${t.offsetY.toFixed(1)}` : ''}.` : ''}
          </>}
      </div>
    </>
  );
}

const fmt = (v: readonly number[]): string => v.map((x) => String(Number(x.toFixed(4)))).join(', ');

/**
 * Input size, mean and std: the model's own as placeholders (from its manifest or ONNX
 * metadata, else ImageNet's), typed values applied on Enter or when the field is left. A
 * value that is not valid stays in its field with the reason below, and nothing re-runs.
 */
function PreprocessFields() {
  const a = useActions();
  const info = useApp((s) => s.model.info);
  const pre = useApp((s) => s.model.preprocess);
  const tile = useApp((s) => s.settings.tile);
  const [error, setError] = useState<string | null>(null);
  if (!info) return null;
  const sizeLocked = info.fixedInputSize === true;
  const field = <K extends keyof Preprocess>(key: K, label: string, placeholder: string, parse: (t: string) => Parsed<NonNullable<Preprocess[K]>>, shown: string, disabled: string | null) => (
    <PreField key={key} label={label} placeholder={placeholder} shown={shown} disabled={disabled}
      apply={(text) => {
        const r = parse(text);
        if ('error' in r) { setError(r.error); return false; }
        setError(null);
        if (JSON.stringify(r.value) !== JSON.stringify(pre[key])) a.setPreprocess({ [key]: r.value } as Partial<Preprocess>);
        return true;
      }} />
  );
  const changed = pre.inputSize !== null || pre.mean !== null || pre.std !== null;
  return (
    <div className="preprocess" data-testid="preprocess">
      {field('inputSize', 'Size', String(info.inputSize), parseInputSize, pre.inputSize === null ? '' : String(pre.inputSize),
        sizeLocked ? `This model takes ${info.inputSize}×${info.inputSize} inputs only` : tile ? 'Tiles run the image at its own resolution' : null)}
      {field('mean', 'Mean', fmt(info.mean), (t) => parseTriple(t, 'Mean'), pre.mean ? fmt(pre.mean) : '', null)}
      {field('std', 'Std', fmt(info.std), (t) => parseTriple(t, 'Std'), pre.std ? fmt(pre.std) : '', null)}
      {changed && <button className="btn ghost small" onClick={() => { setError(null); a.setPreprocess({ inputSize: null, mean: null, std: null }); }}
        title="Back to the model's own input size and normalisation">Model's</button>}
      {error && <div className="field-error" role="alert" data-testid="preprocess-error">{error}</div>}
    </div>
  );
}

function PreField({ label, placeholder, shown, disabled, apply }: { label: string; placeholder: string; shown: string; disabled: string | null; apply: (text: string) => boolean }) {
  const [text, setText] = useState(shown);
  useEffect(() => setText(shown), [shown]);
  return (
    <label className="pre-field" title={disabled ?? `Empty: the model's own (${placeholder})`}>
      <span className="faint">{label}</span>
      <input type="text" value={text} placeholder={placeholder} disabled={disabled !== null} aria-label={`Input ${label.toLowerCase()}`}
        spellCheck={false} onChange={(e) => setText(e.target.value)}
        onKeyDown={(e) => { if (e.key === 'Enter') apply(text); if (e.key === 'Escape') setText(shown); }}
        onBlur={() => { if (text !== shown) apply(text); }} />
    </label>
  );
}
