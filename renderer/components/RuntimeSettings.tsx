// Which runtime runs the model's graph (DESIGN.md "One graph, two runtimes"). Only the
// runtimes the engine offers; choosing another loads the model again on it and re-runs.
import type { DeviceChoice, RuntimeName } from '../../engine/protocol';
import { useActions, useApp, useAppShallow } from '../store';

const RUNTIMES: Record<RuntimeName, { label: string; title: string }> = {
  ort: { label: 'ONNX Runtime', title: 'ONNX Runtime: fastest on CPU (default)' },
  tfjs: { label: 'TensorFlow.js', title: 'TensorFlow.js: has gradients (Grad-CAM)' },
};

const DEVICES: Array<[DeviceChoice, string, string]> = [
  ['cpu', 'CPU', 'ONNX Runtime on the CPU (default)'],
  ['gpu', 'GPU', 'ONNX Runtime\'s WebGPU execution provider (Vulkan, Metal, Direct3D 12); an error if no GPU loads'],
  ['auto', 'Auto', 'The GPU when one loads, else the CPU (the note says why)'],
];

export function RuntimeSettings() {
  const a = useActions();
  const offered = useAppShallow((s) => s.engine.runtimes);
  const setting = useApp((s) => s.settings.runtime);
  // The runtime the loaded model really runs on (a preloaded model may run on another).
  const running = useApp((s) => s.model.info?.runtime ?? null);
  const loading = useApp((s) => s.model.status === 'loading');
  const canReload = useApp((s) => s.model.info === null || s.model.source !== null);
  const chosen = running?.runtime ?? (offered.includes(setting) ? setting : offered[0]);
  const device = useApp((s) => s.settings.device);
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
      <div className="tiles-row">
        <span className="faint">Device</span>
        <div className="seg" role="group" aria-label="Device" data-testid="device-choice">
          {DEVICES.map(([d, label, title]) => (
            <button key={d} aria-pressed={device === d} title={chosen === 'tfjs' ? 'TensorFlow.js picks its own backend' : title}
              disabled={loading || chosen === 'tfjs'} data-device={d} onClick={() => a.setSetting('device', d)}>{label}</button>
          ))}
        </div>
      </div>
      <div className="note" data-testid="runtime-note">
        {loading ? `Loading the model on ${RUNTIMES[setting].label}…` : running ? running.detail : ''}
        {!canReload && setting !== running?.runtime ? ' The host loaded this model; the runtime applies to the next model you open.' : ''}
      </div>
    </>
  );
}
