// How the image is brought to the network: resized to the model's input square, or run in
// tiles at its own resolution with the maps stitched (engine/tiles.ts). Changing either
// re-runs; the overlay follows through the transform the engine reports.
import type { ResizeMode } from '../../engine/protocol';
import { useActions, useApp } from '../store';
import { TILE_SIZES } from '../store/persist';

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
      <div className="note" data-testid="input-note">
        {tiles
          ? `Image ${t.origWidth}×${t.origHeight} in ${tiles.columns}×${tiles.rows} tiles of ${tiles.size} px (overlap ${tiles.overlap} px), at its own resolution.`
          : <>
            {inputSize ? `Model input ${inputSize}×${inputSize}.` : ''}
            {t ? ` Image ${t.origWidth}×${t.origHeight} → ×${t.scaleX.toFixed(3)}${t.scaleX !== t.scaleY ? ` / ×${t.scaleY.toFixed(3)}` : ''}${t.offsetX || t.offsetY ? `, offset ${t.offsetX.toFixed(1)}, ${t.offsetY.toFixed(1)}` : ''}.` : ''}
          </>}
      </div>
    </>
  );
}
