// The first screen, and the states that block it: no engine, no model. Each says what
// to do next.
import { useState } from 'react';
import { bundledSamples, fetchSample } from '../lib/samples';
import { useActions, useApp } from '../store';
import { useCommands } from '../hooks/useCommands';
import { AlertIcon, DropIcon, ImageIcon, ModelIcon } from './Icons';

export function EmptyState() {
  const a = useActions();
  const cmd = useCommands();
  const engineState = useApp((s) => s.engine.state);
  const engineMessage = useApp((s) => s.engine.message);
  const modelStatus = useApp((s) => s.model.status);
  const modelError = useApp((s) => s.model.error);
  const modelLabel = useApp((s) => s.model.label);
  const [loadingSample, setLoadingSample] = useState<string | null>(null);
  const samples = bundledSamples();

  if (engineState === 'disconnected') {
    return (
      <div className="empty">
        <div className="statecard error" role="alert">
          <h2><AlertIcon /> Can’t reach the engine</h2>
          <p>{engineMessage ?? 'The connection to the engine was lost.'}</p>
          <p className="faint">In a browser, start it with <span className="mono">attnscope serve</span> and open the URL it prints (with its token). In the app, restart AttnScope.</p>
          <div className="actions"><button className="btn primary" onClick={() => location.reload()}>Reconnect</button></div>
        </div>
      </div>
    );
  }
  if (modelStatus === 'error' && modelError) {
    return (
      <div className="empty">
        <div className="statecard error" role="alert" data-testid="model-error">
          <h2>Couldn’t load {modelLabel ?? 'the model'}</h2>
          <p>{modelError.message}</p>
          {modelError.hint && <p className="faint">{modelError.hint}</p>}
          <div className="actions"><button className="btn primary" onClick={() => void cmd.openModel()}><ModelIcon /> Open another model</button></div>
        </div>
      </div>
    );
  }

  const openSample = async (s: { name: string; url: string }) => {
    setLoadingSample(s.name);
    try {
      a.addImages([{ name: s.name, bytes: await fetchSample(s) }]);
    } catch (e) {
      a.showToast(e instanceof Error ? e.message : String(e), 'error');
    } finally {
      setLoadingSample(null);
    }
  };

  return (
    <div className="empty" data-testid="empty">
      <div className="dropcard">
        <DropIcon size={40} className="hero" />
        <div className="big">Drop an image anywhere</div>
        <div className="dim">JPEG, PNG or WebP, one or many. Or paste one with {navigator.platform.includes('Mac') ? '⌘V' : 'Ctrl+V'}.</div>
        <div className="actions">
          <button className="btn primary" onClick={() => void cmd.openImages()}><ImageIcon /> Open image… <kbd>O</kbd></button>
          <button className="btn" onClick={() => void cmd.openModel()}><ModelIcon /> Open model… <kbd>M</kbd></button>
        </div>
        <div className="faint" style={{ fontSize: 12, marginTop: 4 }}>
          {modelStatus === 'loading' ? `Loading ${modelLabel ?? 'model'}…` : modelStatus === 'ready' ? `Model: ${modelLabel}` : engineState === 'connecting' ? 'Connecting to the engine…' : 'No model loaded'}
        </div>
      </div>
      {samples.length > 0 && (
        <div className="samples">
          <h3>Or try a sample</h3>
          <div className="row">
            {samples.map((s) => (
              <button key={s.name} className="sample" data-sample={s.name} disabled={loadingSample !== null} onClick={() => void openSample(s)}>
                <img src={s.url} alt="" draggable={false} />
                <span>{loadingSample === s.name ? 'Opening…' : s.name.replace(/\.[a-z]+$/i, '')}</span>
              </button>
            ))}
          </div>
        </div>
      )}
    </div>
  );
}
