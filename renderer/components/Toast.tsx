import { useActions, useApp } from '../store';
import { CloseIcon } from './Icons';

export function Toast() {
  const a = useActions();
  const toast = useApp((s) => s.ui.toast);
  if (!toast) return null;
  return (
    <div className={`toast ${toast.kind}`} role={toast.kind === 'error' ? 'alert' : 'status'} data-testid="toast">
      <span>{toast.text}</span>
      <button className="btn ghost icon small" aria-label="Dismiss" onClick={() => a.dismissToast()}><CloseIcon size={12} /></button>
    </div>
  );
}
