// Export entry point (issue 7): what to write, for which modules, where. The engine's
// renderer writes every pixel, so GUI and CLI exports are identical.
import { useState } from 'react';
import { bridge } from '../platform';
import { useActions, useApp } from '../store';
import type { ExportKind, ExportScope } from '../store/types';
import { CloseIcon, FolderIcon } from './Icons';

const KINDS: Array<[ExportKind, string, string]> = [
  ['overlay', 'Overlay', 'Heatmap blended on the image, at its original size'],
  ['heatmap', 'Heatmap', 'The colour-mapped map alone'],
  ['grid', 'Contact sheet', 'The image and every module’s map, labelled'],
  ['raw', 'Raw maps', '.npy float32 at the model’s resolution; channel weights as CSV'],
];

export function ExportDialog() {
  const a = useActions();
  const ex = useApp((s) => s.exporting);
  const focused = useApp((s) => s.modules.focused?.module ?? null);
  const visibleCount = useApp((s) => (s.model.info?.modules.length ?? 0) - s.modules.hidden.length);
  const settings = useApp((s) => s.settings);
  const bypass = useApp((s) => s.modules.bypass);
  const b = bridge();
  const [dir, setDir] = useState<{ path: string; name: string } | null>(null);
  if (!ex.open) return null;
  const toggleKind = (k: ExportKind) => a.setExport({ kinds: ex.kinds.includes(k) ? ex.kinds.filter((x) => x !== k) : [...ex.kinds, k] });
  const scopes: Array<[ExportScope, string]> = [['current', `Current view${focused ? ` (${focused})` : ''}`], ['all', `All visible modules (${visibleCount})`]];
  const ready = ex.kinds.length > 0 && (!b || dir !== null) && ex.status !== 'running';
  return (
    <div className="scrim" onMouseDown={(e) => { if (e.target === e.currentTarget) a.openExport(false); }}>
      <div className="dialog" role="dialog" aria-modal="true" aria-labelledby="export-title" data-testid="export-dialog">
        <header>
          <h2 id="export-title">Export</h2>
          <button className="btn ghost icon small" aria-label="Close" onClick={() => a.openExport(false)}><CloseIcon size={14} /></button>
        </header>
        <div className="body">
          <fieldset>
            <legend>What</legend>
            <div className="checks">
              {KINDS.map(([k, t, d]) => (
                <label key={k} className="check">
                  <input type="checkbox" checked={ex.kinds.includes(k)} onChange={() => toggleKind(k)} />
                  <span><div>{t}</div><div className="d">{d}</div></span>
                </label>
              ))}
            </div>
          </fieldset>
          <fieldset>
            <legend>Modules</legend>
            <div className="seg">
              {scopes.map(([v, t]) => <button key={v} aria-pressed={ex.scope === v} onClick={() => a.setExport({ scope: v })}>{t}</button>)}
            </div>
          </fieldset>
          <fieldset>
            <legend>Settings (from the view)</legend>
            <dl className="kv">
              <dt>Colormap</dt><dd>{settings.colormap}</dd>
              <dt>Opacity</dt><dd>{Math.round(settings.opacity * 100)}%</dd>
              <dt>Normalisation</dt><dd>{settings.normalisation}</dd>
              <dt>Interpolation</dt><dd>{settings.interpolation}</dd>
              <dt>Resize</dt><dd>{settings.resize}</dd>
              <dt>Bypassed</dt><dd>{bypass.length ? bypass.join(', ') : 'none'}</dd>
            </dl>
          </fieldset>
          {b && (
            <fieldset>
              <legend>Destination</legend>
              <button className="btn" onClick={() => void b.chooseExportDir().then((d) => d && setDir(d))}><FolderIcon /> {dir ? dir.name : 'Choose folder…'}</button>
            </fieldset>
          )}
          {ex.status === 'running' && (
            <div><div className="progress"><div style={{ width: `${ex.progress && ex.progress.total ? (ex.progress.done / ex.progress.total) * 100 : 5}%` }} /></div><div className="note">Exporting…</div></div>
          )}
          {ex.status === 'done' && ex.result && (
            <div className="note" role="status">
              Wrote {ex.result.files.length} file{ex.result.files.length === 1 ? '' : 's'}{ex.result.dir ? ` to ${ex.result.dir}` : ''}.
              {b && ex.result.dir && <> <button className="btn small" onClick={() => void b.revealInFolder(ex.result!.dir!)}>Reveal in folder</button></>}
            </div>
          )}
          {ex.status === 'error' && ex.error && (
            <div className="note" role="alert" style={{ color: 'var(--danger)' }}>{ex.error.message}{ex.error.hint ? ` — ${ex.error.hint}` : ''}</div>
          )}
        </div>
        <footer>
          <button className="btn" onClick={() => a.openExport(false)}>{ex.status === 'done' ? 'Close' : 'Cancel'}</button>
          <button className="btn primary" disabled={!ready} onClick={() => void a.startExport({ dir: dir?.path ?? null })}>Export</button>
        </footer>
      </div>
    </div>
  );
}
