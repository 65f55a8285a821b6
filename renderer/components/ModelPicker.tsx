// The model in use, with a menu: built-in models, recent checkpoints, open another.
// Shows load progress in place and the engine's error (with its hint) when a load fails.
import { useEffect, useRef, useState } from 'react';
import { useCommands } from '../hooks/useCommands';
import { useActions, useApp } from '../store';
import { parseInputSize } from '../store/logic';
import { ChevronDown, DropIcon, FolderIcon, ModelIcon } from './Icons';

export function ModelPicker() {
  const a = useActions();
  const cmd = useCommands();
  const info = useApp((s) => s.model.info);
  const status = useApp((s) => s.model.status);
  const label = useApp((s) => s.model.label);
  const progress = useApp((s) => s.model.progress);
  const error = useApp((s) => s.model.error);
  const errorLabel = useApp((s) => s.model.errorLabel);
  const builtins = useApp((s) => s.engine.builtinModels);
  const recent = useApp((s) => s.model.recent);
  const canPath = useApp((s) => s.engine.sources.includes('path'));
  const source = useApp((s) => s.model.source);
  const [open, setOpen] = useState(false);
  const [arch, setArch] = useState('');
  useEffect(() => { setArch(info?.arch ?? ''); }, [info?.arch, open]);
  // A checkpoint the user opened: its architecture can be named (what the weights do not store).
  const nameable = !!info && !!source && (source.kind === 'bytes' || source.kind === 'path') && !/\.onnx$/i.test(info.name);
  // An .onnx model with a dynamic input: the size its attention is found at (layouts too large at its own size are found at a smaller one).
  const sizable = !!info && !!source && (source.kind === 'bytes' || source.kind === 'path') && info.arch === 'onnx' && !info.fixedInputSize;
  const [openSize, setOpenSize] = useState('');
  useEffect(() => { setOpenSize(info ? String(info.inputSize) : ''); }, [info, open]);
  const parsedSize = parseInputSize(openSize);
  const sizeValue = 'value' in parsedSize ? parsedSize.value : null;
  const [errorOpen, setErrorOpen] = useState(false);
  const ref = useRef<HTMLDivElement>(null);

  useEffect(() => { if (error) setErrorOpen(true); }, [error]);
  useEffect(() => {
    if (!open && !errorOpen) return;
    const close = (e: MouseEvent) => { if (!ref.current?.contains(e.target as Node)) { setOpen(false); setErrorOpen(false); } };
    window.addEventListener('mousedown', close);
    return () => window.removeEventListener('mousedown', close);
  }, [open, errorOpen]);

  const pct = progress && progress.total > 0 ? progress.read / progress.total : null;
  // Checkpoints the user opened (where the host takes paths) and hub models (from the engine's cache).
  const recentModels = recent.filter((r) => r.source.kind === 'hub' || (r.source.kind === 'path' && canPath));
  return (
    <div className="picker" ref={ref}>
      <button className="picker-btn" onClick={() => { setOpen((o) => !o); setErrorOpen(false); }} aria-haspopup="menu" aria-expanded={open} data-testid="model-picker" title={info?.description}>
        <ModelIcon />
        <span className="nm">{status === 'loading' ? `Loading ${label ?? ''}…` : info?.name ?? 'No model'}</span>
        {info && status !== 'loading' && <span className="ar">{info.arch}</span>}
        {info && info.warnings.length > 0 && <span className="warnmark" title={`Warnings from loading:\n${info.warnings.join('\n')}`} aria-label={`${info.warnings.length} warnings`}>⚠ {info.warnings.length}</span>}
        <ChevronDown className="chev" size={14} />
        {status === 'loading' && (
          <div className={`progress${pct === null ? ' indeterminate' : ''}`} data-testid="model-progress"><div style={{ width: `${(pct ?? 0) * 100}%` }} /></div>
        )}
      </button>
      {open && (
        <div className="menu" role="menu">
          {builtins.length > 0 && <div className="grp">Built-in</div>}
          {builtins.map((b) => (
            <button key={b} className="it" role="menuitem" onClick={() => { setOpen(false); void a.loadModel({ kind: 'builtin', name: b }, b); }}>
              <ModelIcon size={14} /> {b} {info?.name === b && <span className="sub">in use</span>}
            </button>
          ))}
          {recentModels.length > 0 && <><hr /><div className="grp">Recent</div></>}
          {recentModels.map((r) => (
            <button key={r.label + JSON.stringify(r.source)} className="it" role="menuitem" data-recent={r.source.kind} onClick={() => { setOpen(false); void a.loadModel(r.source, r.label); }}>
              {r.source.kind === 'hub' ? <ModelIcon size={14} /> : <FolderIcon size={14} />} {r.label}
              {r.source.kind === 'hub' && <span className="sub">{info?.name === r.source.name ? 'in use' : 'ImageNet · timm'}</span>}
            </button>
          ))}
          <hr />
          <button className="it" role="menuitem" data-testid="open-catalogue" onClick={() => { setOpen(false); a.openCatalogue(true); }}>
            <DropIcon size={14} /> ImageNet models… <span className="sub">timm · download once <kbd>I</kbd></span>
          </button>
          <button className="it" role="menuitem" onClick={() => { setOpen(false); void cmd.openModel(); }}>
            <FolderIcon size={14} /> Open model… <span className="sub">.pth · .safetensors · .onnx &nbsp;<kbd>M</kbd></span>
          </button>
          {info && (
            <div className="note" style={{ padding: '4px 8px 2px' }}>{info.description}</div>
          )}
          {info && info.warnings.length > 0 && (
            <ul className="load-warnings" data-testid="load-warnings">{info.warnings.map((w) => <li key={w}>{w}</li>)}</ul>
          )}
          {sizable && source && (
            <form className="arch-edit" onSubmit={(e) => { e.preventDefault(); if (sizeValue === null) return; setOpen(false); void a.loadModel(source, label ?? info.name, { inputSize: sizeValue }); }}>
              <label>
                <span className="faint">Input size</span>
                <input className="input mono" value={openSize} onChange={(e) => setOpenSize(e.target.value)} inputMode="numeric" aria-label="Input size to open the model at" data-testid="open-size-input"
                  title="The size the model is opened at: its attention is found at this size (layouts too large at the model's own size are found at a smaller one); Enter reloads" />
              </label>
              <button className="btn small" type="submit" disabled={sizeValue === null || sizeValue === info.inputSize}>Reload</button>
            </form>
          )}
          {nameable && source && (
            <form className="arch-edit" onSubmit={(e) => { e.preventDefault(); setOpen(false); void a.loadModel(source, label ?? info.name, { arch }); }}>
              <label>
                <span className="faint">Architecture</span>
                <input className="input mono" value={arch} onChange={(e) => setArch(e.target.value)} spellCheck={false} aria-label="Architecture name" data-testid="arch-input"
                  title="Name what the weights do not store, e.g. -c32 for NLSA's chunk size, -isa3-2x4, -lnl3-r0.25-s2; Enter reloads" />
              </label>
              <button className="btn small" type="submit" disabled={!arch.trim() || arch.trim() === info.arch}>Reload</button>
            </form>
          )}
        </div>
      )}
      {errorOpen && error && !open && (
        <div className="model-error" role="alert" data-testid="model-load-error">
          <div className="t">Couldn’t load {errorLabel ?? 'the model'}</div>
          <div className="m">{error.message}</div>
          <div className="h">{error.hint ?? 'Choose a PyTorch checkpoint (.pth, .pth.tar), a .safetensors file of a supported network, or any .onnx model.'}</div>
          <div className="actions">
            <button className="btn small" onClick={() => setErrorOpen(false)}>Dismiss</button>
            <button className="btn small" onClick={() => { setErrorOpen(false); void cmd.openModel(); }}>Open another…</button>
            {info && <span className="faint" style={{ fontSize: 11.5 }}>Still using {info.name}</span>}
          </div>
        </div>
      )}
    </div>
  );
}
