// Top-5 classes; with modules bypassed, each against the same image with every module on.
import { useMemo } from 'react';
import { useActions, useApp } from '../store';
import { predictionDeltas } from '../store/selectors';

export function Predictions() {
  const preds = useApp((s) => s.run.predictions);
  const bypass = useApp((s) => s.run.bypass);
  const base = useApp((s) => (s.run.imageId ? s.analysis.baseline[s.run.imageId] : undefined));
  const deltas = useMemo(() => predictionDeltas(preds, bypass, base), [preds, bypass, base]);
  const status = useApp((s) => s.run.status);
  const camClass = useApp((s) => (s.settings.layout === 'compare' ? s.analysis.cam?.classIndex ?? null : null));
  const a = useActions();
  const hasClasses = useApp((s) => (s.model.info ? s.model.info.numClasses > 0 : true));
  if (!hasClasses) return <div className="placeholder">This model is not a classifier.</div>;
  if (preds.length === 0) return <div className="placeholder">{status === 'running' ? 'Running…' : 'Open an image to see predictions.'}</div>;
  return (
    <>
      {bypass.length > 0 && (
        <div className="note" style={{ marginTop: 0, marginBottom: 8 }}>
          Without <span className="mono">{bypass.join(', ')}</span>{deltas ? '; ticks show the full model.' : '.'}
        </div>
      )}
      {base && bypass.length > 0 && base[0] && preds[0] && base[0].index !== preds[0].index && (
        <div className="note" style={{ marginTop: 0, marginBottom: 8, color: 'var(--warn)' }} data-testid="top1-change">
          Top-1 changed: {base[0].label} ({(base[0].probability * 100).toFixed(1)}%) → {preds[0].label} ({(preds[0].probability * 100).toFixed(1)}%)
        </div>
      )}
      <ol className="pred" data-testid="predictions">
        {preds.map((p, i) => {
          const d = deltas?.[i];
          const diff = d && d.before !== null ? p.probability - d.before : null;
          return (
            <li key={p.index} className={camClass === p.index ? 'picked' : undefined} title="Class evidence for this class"
              onClick={() => a.setCamClass(p.index)} data-class={p.index}>
              <span className="lbl">{p.label}</span>
              <span className="pct">
                {(p.probability * 100).toFixed(1)}%
                {diff !== null && Math.abs(diff) >= 0.0005 && (
                  <span className={`delta ${diff > 0 ? 'up' : 'down'}`}>{diff > 0 ? '+' : '−'}{Math.abs(diff * 100).toFixed(1)}</span>
                )}
                {d && d.before === null && <span className="delta up">new</span>}
              </span>
              <div className="track">
                <div className="fill" style={{ width: `${p.probability * 100}%` }} />
                {d?.before != null && <div className="ghost" style={{ left: `calc(${d.before * 100}% - 1px)` }} title={`full model: ${(d.before * 100).toFixed(1)}%`} />}
              </div>
            </li>
          );
        })}
      </ol>
    </>
  );
}
