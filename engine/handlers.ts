// The engine's request handlers: hello, loadModel, run, query, channelMap. Extra request types
// (export, hub ...) add one `core.handle(type, spec)` line in registerHandlers below; their
// message types and validation go into engine/protocol.ts.

import { type EngineCore, now, ownBuffer } from './core';
import { EngineError } from './errors';
import { registerExportHandler } from './exportHandler';
import { registerHubHandlers } from './hubHandler';
import type {
  CamRequest, ChannelMapRequest, EngineMessage, HelloRequest, LoadModelRequest, QueryRequest, RunRequest, TapEvent,
} from './protocol';
import { PROTOCOL_VERSION } from './protocol';
import { topK } from './types';

/** Progress events at most this often (ms), plus the last one. */
const PROGRESS_INTERVAL_MS = 50;

export function registerHandlers(core: EngineCore): void {
  core.handle<HelloRequest>('hello', {
    serial: false,
    async handle({ msg, core }) {
      const [runtime, capabilities] = await Promise.all([core.provider.runtime(), core.provider.capabilities(), core.startup]);
      // The loaded model's runtime, else the engine's default.
      const current = core.session?.runtime ?? runtime;
      return {
        type: 'hello', id: msg.id, protocol: PROTOCOL_VERSION, version: core.provider.version,
        backend: `${current.runtime} ${current.backend}`, backendDetail: current.detail, runtime: current,
        capabilities: { ...capabilities, sources: [...core.sources] },
        ...(core.session ? { model: core.session.info } : {}),
      };
    },
  });

  core.handle<LoadModelRequest>('loadModel', {
    serial: true,
    supersedes: ['loadModel', 'run'],
    async handle({ msg, core, signal, send }) {
      // A hub model is read from the engine's own cache, like a built-in one.
      checkSource(core, msg.source.kind === 'hub' ? 'builtin' : msg.source.kind, msg.source.kind === 'path' ? msg.source.path : null);
      let last = 0;
      const onProgress = (bytesRead: number, totalBytes: number) => {
        const t = Date.now();
        if (t - last < PROGRESS_INTERVAL_MS && bytesRead < totalBytes) return;
        last = t;
        send({ type: 'loadProgress', id: msg.id, bytesRead, totalBytes });
      };
      const session = await core.provider.open(msg, onProgress, signal);
      if (signal.aborted) { session.dispose(); return; }
      // The first pass builds and packs every conv operator (2-3x a warm pass on wasm,
      // bench/RESULTS.md): pay it here, under the load progress, not on the user's first image.
      await session.warmup();
      if (signal.aborted) { session.dispose(); return; }
      core.setSession(session);
      return { type: 'modelInfo', id: msg.id, info: session.info };
    },
  });

  core.handle<RunRequest>('run', {
    serial: true,
    supersedes: ['run'],
    async handle({ msg, core, signal, send, session }) {
      checkSource(core, msg.image.kind, msg.image.kind === 'path' ? msg.image.path : null);
      const model = session();
      const total = model.info.modules.reduce((n, m) => n + m.taps.length, 0);
      let runId = '';
      let index = 0;
      const result = await model.run(msg, {
        signal,
        onStarted(e) {
          runId = e.runId;
          send({ type: 'runStarted', id: msg.id, ...e });
        },
        onTile(done, tiles) {
          if (signal.aborted) return;
          send({ type: 'runProgress', id: msg.id, runId, done, total: tiles });
          return yieldToEvents(); // a newer run or a cancel can stop a long tiled run between tiles
        },
        onTap(tap) {
          if (signal.aborted) return;
          const data = ownBuffer(tap.data);
          const event: TapEvent = {
            type: 'tap', id: msg.id, runId, module: tap.module, tap: tap.tap, shape: tap.shape, data,
            index, total: Math.max(total, index + 1), computedAt: now(),
          };
          index += 1;
          send(event, [data.buffer as ArrayBuffer]);
          // The network awaits this between modules: letting queued messages in here is
          // what lets a newer run or a cancel stop this one mid-forward.
          return yieldToEvents();
        },
      });
      if (signal.aborted) return;
      const logits = ownBuffer(result.logits);
      const top = topK(logits, model.info.classes, 5);
      send({ type: 'prediction', id: msg.id, runId: result.runId, logits, top }, [logits.buffer as ArrayBuffer]);
      const done: EngineMessage = {
        type: 'runDone', id: msg.id, runId: result.runId, timings: result.timings,
        backend: `${result.runtime} ${result.backend}`, runtime: result.runtime, tapCount: index,
        ...(result.notice ? { notice: result.notice } : {}),
      };
      return done;
    },
  });

  core.handle<QueryRequest>('query', {
    serial: true,
    async handle({ msg, session }) {
      const r = await session().query(msg.runId, msg.module, msg.point);
      const data = ownBuffer(r.data);
      return {
        type: 'queryResult', id: msg.id, runId: msg.runId, module: msg.module, point: msg.point, cell: r.cell, shape: r.shape, data,
        ...(r.steps ? { label: r.label ?? 'affinity', steps: r.steps.map((st) => ({ label: st.label, data: ownBuffer(st.data) })) } : {}),
      };
    },
  });

  core.handle<ChannelMapRequest>('channelMap', {
    serial: true,
    async handle({ msg, session }) {
      const r = await session().channelMap(msg.runId, msg.module, msg.channel);
      const data = ownBuffer(r.data);
      return { type: 'channelMapResult', id: msg.id, runId: msg.runId, module: msg.module, channel: msg.channel, shape: r.shape, data };
    },
  });

  core.handle<CamRequest>('cam', {
    serial: true,
    // A newer request (another method, stage or class) stops a long Score-CAM between batches.
    supersedes: ['cam'],
    async handle({ msg, session, send, signal }) {
      const r = await session().cam(msg.runId, { method: msg.method, stage: msg.stage, classIndex: msg.classIndex },
        (done, total) => send({ type: 'camProgress', id: msg.id, done, total }), signal);
      const data = ownBuffer(r.data);
      return { type: 'camResult', id: msg.id, runId: msg.runId, method: r.method, layer: r.layer, classIndex: r.classIndex, shape: r.shape, data, ...(r.regions ? { regions: r.regions } : {}), passes: r.passes, ms: r.ms };
    },
  });

  // Extra request types register here (one line each).
  registerExportHandler(core);
  registerHubHandlers(core);
}

/** Resolves after pending I/O events (incoming messages) have been handled. */
function yieldToEvents(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function checkSource(core: EngineCore, kind: 'builtin' | 'bytes' | 'path', path: string | null): void {
  if (!core.sources.includes(kind)) {
    throw new EngineError('forbidden', `This engine does not accept ${kind === 'path' ? 'file paths' : `${kind} sources`}.`,
      kind === 'path' ? 'In the browser, drop the file or pick it with the file button: it is sent as bytes.' : undefined);
  }
  if (path !== null && !core.paths.canRead(path)) {
    throw new EngineError('forbidden', `The engine may not read ${path}: it was not chosen in a dialog.`,
      'Open the file with File > Open, or drop it on the window.');
  }
}
