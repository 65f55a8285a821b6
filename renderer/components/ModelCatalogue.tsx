// The Models dialog (issue 15): timm's ImageNet attention networks from the hub catalogue
// (engine/hub/catalogue.ts), each downloaded once into the engine's cache and then loaded
// like any model. Opened from the model picker's menu and with the I key.
import { useRef } from 'react';
import type { HubAttention, HubModelState } from '../../engine/protocol';
import { useDialogFocus } from '../hooks/useDialogFocus';
import { useActions, useApp } from '../store';
import { formatBytes } from '../store/logic';
import type { HubPull } from '../store/types';
import { AlertIcon, CloseIcon, DropIcon } from './Icons';

const ATTENTION: Record<HubAttention, string> = {
  se: 'SE', eca: 'ECA', gc: 'GC', sk: 'Selective kernel', 'split-attention': 'Split attention', mhsa: 'Self-attention', halo: 'Halo attention',
};

const pct = (p: HubPull) => (p.total > 0 ? Math.min(100, (p.bytes / p.total) * 100) : null);

function Progress({ pull }: { pull: HubPull }) {
  const p = pct(pull);
  const text = pull.status === 'loading' ? 'Loading…'
    : pull.bytes === 0 && pull.total === 0 ? 'Connecting…'
      : `${formatBytes(pull.bytes)}${pull.total ? ` of ${formatBytes(pull.total)}` : ''}${p !== null ? ` · ${Math.floor(p)}%` : ''}`;
  return (
    <div className="hub-progress">
      <div className={`progress${p === null || pull.status === 'loading' ? ' indeterminate' : ''}`}
        role="progressbar" aria-valuemin={0} aria-valuemax={100} aria-valuenow={p === null ? undefined : Math.floor(p)}>
        <div style={{ width: `${p ?? 0}%` }} />
      </div>
      <span className="mono" data-testid="hub-progress-text">{text}</span>
    </div>
  );
}

function Action({ m, pull, inUse }: { m: HubModelState; pull: HubPull | undefined; inUse: boolean }) {
  const a = useActions();
  if (pull?.status === 'downloading') {
    return (
      <div className="hub-action">
        <Progress pull={pull} />
        <button className="btn small" onClick={() => a.cancelHubPull(m.name)} aria-label={`Cancel the download of ${m.name}`}>Cancel</button>
      </div>
    );
  }
  if (pull?.status === 'loading') return <div className="hub-action"><Progress pull={pull} /></div>;
  if (pull?.status === 'cancelled') {
    return (
      <div className="hub-action">
        <span className="faint hub-state">Stopped at {formatBytes(pull.bytes)}</span>
        <button className="btn small" onClick={() => void a.pullHubModel(m.name)}>Resume</button>
      </div>
    );
  }
  if (pull?.status === 'error') {
    return <div className="hub-action"><button className="btn small" onClick={() => void a.pullHubModel(m.name)}>Retry</button></div>;
  }
  if (inUse) return <div className="hub-action"><span className="badge">in use</span></div>;
  if (m.cached) return <div className="hub-action"><button className="btn small" onClick={() => void a.openHubModel(m.name)}>Open</button></div>;
  return (
    <div className="hub-action">
      <button className="btn small primary" onClick={() => void a.pullHubModel(m.name)} aria-label={`Download ${m.name}`}><DropIcon size={13} /> Download</button>
    </div>
  );
}

export function ModelCatalogue() {
  const a = useActions();
  const hub = useApp((s) => s.hub);
  const inUse = useApp((s) => (s.model.source?.kind === 'hub' && s.model.status === 'ready' ? s.model.source.name : null));
  const ref = useRef<HTMLDivElement>(null);
  useDialogFocus(ref, hub.open);
  if (!hub.open) return null;
  return (
    <div className="scrim" onMouseDown={(e) => { if (e.target === e.currentTarget) a.openCatalogue(false); }}>
      <div className="dialog wide" role="dialog" aria-modal="true" aria-labelledby="hub-title" data-testid="model-catalogue" ref={ref} tabIndex={-1}>
        <header>
          <h2 id="hub-title">ImageNet models</h2>
          <button className="btn ghost icon small" aria-label="Close" onClick={() => a.openCatalogue(false)}><CloseIcon size={14} /></button>
        </header>
        <div className="body">
          <p className="note" style={{ margin: 0 }}>
            Attention networks trained on ImageNet-1k, from timm. Each downloads once from the Hugging Face hub into the engine’s cache; then it opens offline.
          </p>
          {hub.status === 'error' && hub.error && (
            <div className="hub-error" role="alert">
              <AlertIcon size={14} /><div><div>{hub.error.message}</div>{hub.error.hint && <div className="dim">{hub.error.hint}</div>}</div>
              <button className="btn small" onClick={() => void a.refreshCatalogue()}>Try again</button>
            </div>
          )}
          {hub.models.length === 0 && hub.status === 'loading' && <div className="placeholder">Reading the catalogue…</div>}
          {hub.models.length > 0 && (
            <table className="hub-table">
              <thead>
                <tr>
                  <th>Model</th><th>Attention</th><th className="num">Params</th><th className="num">Top-1<sup>1</sup></th><th>License</th><th className="num">Size</th><th />
                </tr>
              </thead>
              <tbody>
                {hub.models.map((m) => {
                  const pull = hub.pulls[m.name];
                  return [
                    <tr key={m.name} data-model={m.name} className={pull?.status === 'error' ? 'has-error' : undefined}>
                      <td>
                        <div className="mono hub-name">{m.name}</div>
                        <div className="faint hub-sub" title={`${m.paper.title} (${m.paper.cite})`}>{m.family} · {m.paper.cite}</div>
                      </td>
                      <td className="nowrap">{ATTENTION[m.attention] ?? m.attention}</td>
                      <td className="num mono">{m.paramsM.toFixed(1)} M</td>
                      <td className="num mono" title={`top-5 ${m.top5.toFixed(1)}%`}>{m.top1.toFixed(1)}% <span className="faint">@{m.imageSize}</span></td>
                      <td className="mono faint nowrap">{m.license}</td>
                      <td className="num mono">
                        {m.bytesEstimated ? '≈' : ''}{formatBytes(m.bytes)}
                        {m.cached && <div><span className="badge ok" title="In the engine’s cache">cached</span></div>}
                      </td>
                      <td><Action m={m} pull={pull} inUse={inUse === m.name && !pull} /></td>
                    </tr>,
                    pull?.status === 'error' && pull.error ? (
                      <tr key={`${m.name}-error`} className="hub-error-row">
                        <td colSpan={7}>
                          <div className="hub-error" role="alert" data-testid="hub-error">
                            <AlertIcon size={14} />
                            <div><div>{pull.error.message}</div>{pull.error.hint && <div className="dim">{pull.error.hint}</div>}</div>
                          </div>
                        </td>
                      </tr>
                    ) : null,
                  ];
                })}
              </tbody>
            </table>
          )}
        </div>
        <footer className="hub-footer">
          <p className="note hub-foot">
            <sup>1</sup> ImageNet-1k top-1 from timm’s results table (results-imagenet.csv) at the input size shown; hover for top-5.
            Sizes marked ≈ are estimated from the parameter count. Licenses are those of the weights.
          </p>
          <button className="btn" onClick={() => a.openCatalogue(false)}>Close</button>
        </footer>
      </div>
    </div>
  );
}
