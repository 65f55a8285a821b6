import { useActions, useApp } from '../store';
import { CloseIcon } from './Icons';

export const SHORTCUTS: Array<[string, string]> = [
  ['O', 'Open images'],
  ['M', 'Open a model'],
  ['I', 'ImageNet models (hub)'],
  ['E', 'Export'],
  ['1 – 9', 'Focus a stage'],
  ['[  ]', 'Previous / next module'],
  ['←  →', 'Previous / next image'],
  ['C / Shift+C', 'Next / previous colormap'],
  ['+  −', 'Overlay opacity'],
  ['V', 'Show / hide the focused overlay'],
  ['B', 'Bypass the focused module'],
  ['G', 'Single view / grid'],
  ['N', 'Cycle normalisation'],
  ['T', 'Cycle tiles (off, 256, 512, 1024 px)'],
  ['X', 'Compare: attention beside class evidence (Grad-CAM ...)'],
  ['F', 'Fit the image (or double-click)'],
  ['P', 'Multi-pass attention (CCNet): pass 1 / after all passes'],
  ['Esc', 'Clear the query point / close'],
  ['?', 'This sheet'],
];

export function ShortcutSheet() {
  const a = useActions();
  const open = useApp((s) => s.ui.shortcutsOpen);
  if (!open) return null;
  return (
    <div className="scrim" onMouseDown={(e) => { if (e.target === e.currentTarget) a.setShortcutsOpen(false); }}>
      <div className="dialog" role="dialog" aria-modal="true" aria-labelledby="keys-title" data-testid="shortcuts">
        <header>
          <h2 id="keys-title">Keyboard shortcuts</h2>
          <button className="btn ghost icon small" aria-label="Close" onClick={() => a.setShortcutsOpen(false)}><CloseIcon size={14} /></button>
        </header>
        <div className="body">
          <div className="shortcuts">
            {SHORTCUTS.map(([k, d]) => <div key={k}><span>{d}</span><kbd>{k}</kbd></div>)}
          </div>
        </div>
      </div>
    </div>
  );
}
