import type { RuntimeInfo } from '../../engine/protocol';
import { useApp } from '../store';
import { formatBytes } from '../store/logic';
import { selectCurrentImage } from '../store/selectors';

/** What runs the graph, e.g. `ort · cpu · 2 threads`; the detail says why in the tooltip. */
function RuntimeItem({ runtime }: { runtime: RuntimeInfo }) {
  const onGpu = runtime.device === 'gpu' && !/gpu/i.test(runtime.backend);
  return (
    <span className="item mono" title={runtime.detail} data-testid="runtime-item">
      <b data-testid="runtime">{runtime.runtime}</b>
      <span className="faint"> · </span><span data-testid="backend">{runtime.backend}</span>
      {onGpu && <><span className="faint"> · </span>gpu</>}
      <span className="faint"> · </span>{`${runtime.threads} thread${runtime.threads === 1 ? '' : 's'}`}
    </span>
  );
}

const STATE_TEXT = { connecting: 'Connecting…', ready: 'Engine ready', restarting: 'Engine restarting…', disconnected: 'Engine offline' } as const;

export function StatusBar() {
  const state = useApp((s) => s.engine.state);
  const message = useApp((s) => s.engine.message);
  const backend = useApp((s) => s.engine.backend);
  // The loaded model's runtime, else what hello said (the engine's default).
  const runtime = useApp((s) => s.model.info?.runtime ?? s.engine.runtime);
  const version = useApp((s) => s.engine.version);
  const arch = useApp((s) => s.model.info?.arch ?? null);
  const inputSize = useApp((s) => s.model.info?.inputSize ?? null);
  const image = useApp(selectCurrentImage);
  const runImage = useApp((s) => (s.run.imageId === s.images.currentId ? s.run.image : null));
  const timings = useApp((s) => s.run.timings);
  const status = useApp((s) => s.run.status);
  const received = useApp((s) => s.run.received);
  const total = useApp((s) => s.run.total);
  const tiles = useApp((s) => s.run.tiles);
  const firstMs = useApp((s) => s.metrics.firstHeatmapMs);
  const count = useApp((s) => s.images.list.length);
  const index = useApp((s) => s.images.list.findIndex((i) => i.id === s.images.currentId));
  return (
    <footer className="statusbar" data-testid="statusbar">
      <span className="item" title={message ?? undefined}><span className={`dot ${state}`} />{message && state !== 'ready' ? message : STATE_TEXT[state]}</span>
      {runtime
        ? <RuntimeItem runtime={runtime} />
        : backend && <span className="item" title="Engine backend">backend <b className="mono" data-testid="backend">{backend}</b></span>}
      {arch && <span className="item mono">{arch}{inputSize ? ` · ${inputSize}px` : ''}</span>}
      {image && (
        <span className="item">
          {count > 1 && <span className="faint">{index + 1}/{count}</span>}
          <span style={{ maxWidth: 220, overflow: 'hidden', textOverflow: 'ellipsis' }}>{image.name}</span>
          {runImage && <span className="mono" data-testid="image-size">{runImage.width}×{runImage.height}</span>}
          {image.byteLength > 0 && <span className="faint">{formatBytes(image.byteLength)}</span>}
        </span>
      )}
      {status === 'running' && (
        <span className="item" data-testid="run-progress">
          running{tiles && received === 0 ? ` · tile ${tiles.done}/${tiles.total}` : total ? ` · ${received}/${total} taps` : '…'}
        </span>
      )}
      {status === 'done' && timings && (
        <span className="item mono" data-testid="run-time" title={`decode ${timings.decodeMs.toFixed(0)} ms · preprocess ${timings.preprocessMs.toFixed(0)} ms · forward ${timings.forwardMs.toFixed(0)} ms · readback ${timings.readbackMs.toFixed(0)} ms`}>
          {timings.totalMs.toFixed(0)} ms <span className="faint">(forward {timings.forwardMs.toFixed(0)})</span>
        </span>
      )}
      {firstMs !== null && <span className="item mono" title="From opening the image to the first heatmap on screen" data-testid="first-heatmap">first map {firstMs.toFixed(0)} ms</span>}
      {state === 'ready' && message && <span className="item faint">{message}</span>}
      <span className="item grow" />
      {version && <span className="item faint">engine {version}</span>}
      <span className="item faint">? shortcuts</span>
    </footer>
  );
}
