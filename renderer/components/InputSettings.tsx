// How the image is brought to the model's input size. Changing it re-runs; the overlay
// follows through the transform the engine reports.
import type { ResizeMode } from '../../engine/protocol';
import { useActions, useApp } from '../store';

const MODES: Array<[ResizeMode, string, string]> = [
  ['stretch', 'Stretch', 'Resize to the input square, ignoring the aspect ratio'],
  ['pad', 'Pad', 'Keep the aspect ratio; letterbox the rest'],
  ['center-crop', 'Crop', 'Keep the aspect ratio; cut the sides that do not fit (no map there)'],
];

export function InputSettings() {
  const a = useActions();
  const resize = useApp((s) => s.settings.resize);
  const inputSize = useApp((s) => s.model.info?.inputSize ?? null);
  const t = useApp((s) => (s.run.imageId === s.images.currentId ? s.run.transform : null));
  return (
    <>
      <div className="seg" role="group" aria-label="Resize mode">
        {MODES.map(([m, label, title]) => (
          <button key={m} aria-pressed={resize === m} title={title} onClick={() => a.setSetting('resize', m)}>{label}</button>
        ))}
      </div>
      <div className="note">
        {inputSize ? `Model input ${inputSize}×${inputSize}.` : ''}
        {t ? ` Image ${t.origWidth}×${t.origHeight} → ×${t.scaleX.toFixed(3)}${t.scaleX !== t.scaleY ? ` / ×${t.scaleY.toFixed(3)}` : ''}${t.offsetX || t.offsetY ? `, offset ${t.offsetX.toFixed(1)}, ${t.offsetY.toFixed(1)}` : ''}.` : ''}
      </div>
    </>
  );
}
