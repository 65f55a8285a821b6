// Which runtime runs the model's graph (DESIGN.md "One graph, two runtimes"). Only the
// runtimes the engine offers; choosing another loads the model again on it and re-runs.
import type { RuntimeName } from '../../engine/protocol';
import { useActions, useApp, useAppShallow } from '../store';

const RUNTIMES: Record<RuntimeName, { label: string; title: string }> = {
  ort: { label: 'ONNX Runtime', title: 'ONNX Runtime: fastest on CPU (default)' },
  tfjs: { label: 'TensorFlow.js', title: 'TensorFlow.js: has gradients (Grad-CAM)' },
};

export function RuntimeSettings() {
  const a = useActions();
  const offered = useAppShallow((s) => s.engine.runtimes);
  const setting = useApp((s) => s.settings.runtime);
  // The runtime the loaded model really runs on (a preloaded model may run on another).
  const running = useApp((s) => s.model.info?.runtime ?? null);
  const loading = useApp((s) => s.model.status === 'loading');
  const canReload = useApp((s) => s.model.info === null || s.model.source !== null);
  const chosen = running?.runtime ?? (offered.includes(setting) ? setting : offered[0]);
  return (
    <>
      <div className="seg" role="group" aria-label="Runtime" data-testid="runtime-choice">
        {offered.map((r) => (
          <button
            key={r} aria-pressed={chosen === r} title={RUNTIMES[r].title} disabled={loading} data-runtime={r}
            onClick={() => a.setSetting('runtime', r)}
          >{RUNTIMES[r].label}</button>
        ))}
      </div>
      <div className="note" data-testid="runtime-note">
        {loading ? `Loading the model on ${RUNTIMES[setting].label}…` : running ? running.detail : ''}
        {!canReload && setting !== running?.runtime ? ' The host loaded this model; the runtime applies to the next model you open.' : ''}
      </div>
    </>
  );
}
