// Actions that talk to the engine through the client: connect, load a model, run the
// current image (streaming taps into the store), query a non-local point, fetch one
// channel's map, export. Each run gets a sequence number; events of a superseded run
// are dropped even if the client delivers them late.
import type { CamReply, ChannelMapReply, ExportDoneReply, ExportRequest, ImageSource, ModelInfo, ModelSource, RuntimeName } from '../../engine/protocol';
import type { EngineClient } from '../client/types';
import { sortColormaps, type Colormap } from '../lib/colormap';
import { bundledSamples } from '../lib/samples';
import type { GetState, ResolvedDeps, SetState } from './base';
import { emptyRun, NO_PREPROCESS, preprocessOptions } from './base';
import { defaultFocus, isCancelled, newId, toUserError } from './logic';
import { pushRecent, RUNTIMES, saveRecent } from './persist';
import type { AppActions, AppState, CamState, ImageEntry, LoadChoices } from './types';

type EngineActionKeys =
  | 'attachClient' | 'addImages' | 'addImagePaths' | 'selectImage' | 'stepImage' | 'removeImage'
  | 'loadModel' | 'reloadModel' | 'runCurrent' | 'toggleBypass' | 'clearBypass' | 'setPreprocess' | 'queryPoint' | 'clearQuery'
  | 'pickChannel' | 'requestCam' | 'requestStageCams' | 'setCamClass' | 'startExport' | 'markHeatmapPainted';

function sameBytes(a: ArrayBuffer, b: ArrayBuffer): boolean {
  if (a.byteLength !== b.byteLength) return false;
  const x = new Uint8Array(a);
  const y = new Uint8Array(b);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/** Copy: the client may transfer (detach) the buffer it is given. */
function sourceForRun(entry: ImageEntry): ImageSource {
  return entry.source.kind === 'bytes'
    ? { kind: 'bytes', name: entry.source.name, bytes: entry.source.bytes.slice(0) }
    : entry.source;
}

/** The runtime to ask for: the setting, when the engine offers it; else none (the engine's default). */
function wantedRuntime(s: AppState): RuntimeName | undefined {
  return s.engine.runtimes.includes(s.settings.runtime) ? s.settings.runtime : undefined;
}

/** The same weights and graph: a reload (another runtime) keeps what the user focused, hid and bypassed. */
const sameModel = (a: ModelInfo | null, b: ModelInfo) =>
  !!a && a.weightsSha256 === b.weightsSha256 && a.arch === b.arch && a.modules.map((m) => m.name).join() === b.modules.map((m) => m.name).join();

function capabilityList(caps: unknown, key: string): unknown[] {
  const v = caps && typeof caps === 'object' ? (caps as Record<string, unknown>)[key] : undefined;
  return Array.isArray(v) ? v : [];
}

export function engineActions(set: SetState, get: GetState, d: ResolvedDeps): Pick<AppActions, EngineActionKeys> {
  const patch = <K extends keyof AppState>(key: K, value: Partial<AppState[K]>) =>
    set((s) => ({ [key]: { ...(s[key] as object), ...(value as object) } }) as Partial<AppState>);

  const current = (): ImageEntry | null => {
    const { list, currentId } = get().images;
    return list.find((i) => i.id === currentId) ?? null;
  };

  const afterModel = (info: ModelInfo, prev: ModelInfo | null = null) => {
    // Queries and channel maps name runs of the previous session: gone either way.
    set((s) => (sameModel(prev, info)
      ? { analysis: { ...s.analysis, query: null, channel: null, cam: null, stageCams: {} }, run: emptyRun(s.run.seq + 1) }
      : {
        model: { ...s.model, preprocess: NO_PREPROCESS },
        modules: { focused: defaultFocus(info), hidden: [], bypass: [] },
        analysis: { baseline: {}, query: null, channel: null, camClass: null, cam: null, stageCams: {}, component: {}, queryStep: {} },
        run: emptyRun(s.run.seq + 1),
      }));
  };

  /** Counts loads: a load superseded by a newer one (the engine cancels it) leaves no trace. */
  let loadSeq = 0;
  /** The load in flight, if any: what reloadModel() asks for again. */
  let pending: { source: ModelSource; label: string; choices: LoadChoices } | null = null;

  const actions: Pick<AppActions, EngineActionKeys> = {
    async attachClient(client: EngineClient) {
      patch('engine', { client, state: 'connecting', message: null });
      client.onStatus((st) => {
        patch('engine', {
          state: st.state, message: st.message ?? null,
          ...(st.backend ? { backend: st.backend } : {}), ...(st.runtime ? { runtime: st.runtime } : {}),
        });
      });
      try {
        const hello = await client.hello();
        const caps = hello.capabilities;
        const maps = capabilityList(caps, 'colormaps').filter(
          (c): c is Colormap => !!c && typeof (c as Colormap).name === 'string' && ((c as Colormap).lut?.length ?? 0) >= 768,
        );
        const sources = capabilityList(caps, 'sources').filter((k): k is 'builtin' | 'bytes' | 'path' => k === 'builtin' || k === 'bytes' || k === 'path');
        const runtimes = capabilityList(caps, 'runtimes').filter((r): r is RuntimeName => RUNTIMES.includes(r as RuntimeName));
        patch('engine', {
          state: 'ready', backend: hello.backend, version: hello.version,
          runtime: hello.runtime ?? null,
          runtimes: runtimes.length ? runtimes : ['ort'],
          colormaps: sortColormaps(maps),
          builtinModels: caps.builtinModels ?? [],
          sources: sources.length ? sources : ['builtin', 'bytes'],
          samples: bundledSamples().map((s) => s.name),
        });
        // A model the host preloaded (serve --model/--weights) comes with hello, on the
        // host's runtime. A built-in one can be loaded again on another; one from a path cannot.
        if (hello.model && get().model.status === 'none') {
          const source: ModelSource | null = (caps.builtinModels ?? []).includes(hello.model.name) ? { kind: 'builtin', name: hello.model.name } : null;
          patch('model', { info: hello.model, source, status: 'ready', label: hello.model.name, error: null });
          afterModel(hello.model);
          await get().runCurrent();
          return;
        }
        const first = caps.builtinModels?.[0];
        if (d.autoLoadModel && first && get().model.status === 'none') {
          await get().loadModel({ kind: 'builtin', name: first }, first);
        }
      } catch (e) {
        const err = toUserError(e, 'Could not reach the engine');
        patch('engine', { state: 'disconnected', message: err.hint ? `${err.message}. ${err.hint}` : err.message });
      }
    },

    addImages(files) {
      if (files.length === 0) return;
      // A file already in the filmstrip (same name, same bytes) is selected, not added again.
      const list = get().images.list;
      const existing = (f: { name: string; bytes: ArrayBuffer }): ImageEntry | undefined => list.find((e) => e.name === f.name && e.source.kind === 'bytes' && sameBytes(e.source.bytes, f.bytes));
      const fresh = files.filter((f) => !existing(f));
      if (fresh.length === 0) {
        const again = existing(files[0]!)!;
        if (get().images.currentId !== again.id) get().selectImage(again.id);
        return;
      }
      const entries: ImageEntry[] = fresh.map((f) => ({
        id: newId('img'),
        name: f.name,
        source: { kind: 'bytes', name: f.name, bytes: f.bytes },
        url: d.createObjectUrl(f.bytes, f.name),
        byteLength: f.bytes.byteLength,
      }));
      set((s) => ({
        images: { list: [...s.images.list, ...entries], currentId: entries[0]!.id },
        metrics: { openedAt: d.now(), firstHeatmapMs: null },
      }));
      void get().runCurrent();
    },

    addImagePaths(files) {
      if (files.length === 0) return;
      const entries: ImageEntry[] = files.map((f) => ({
        id: newId('img'), name: f.name, source: { kind: 'path', path: f.path }, url: null, byteLength: 0,
      }));
      set((s) => ({
        images: { list: [...s.images.list, ...entries], currentId: entries[0]!.id },
        metrics: { openedAt: d.now(), firstHeatmapMs: null },
      }));
      void get().runCurrent();
    },

    selectImage(id) {
      if (get().images.currentId === id || !get().images.list.some((i) => i.id === id)) return;
      patch('images', { currentId: id });
      set((s) => ({ analysis: { ...s.analysis, query: null, channel: null, camClass: null, cam: null, stageCams: {} }, metrics: { openedAt: d.now(), firstHeatmapMs: null } }));
      get().resetView();
      void get().runCurrent();
    },

    stepImage(delta) {
      const { list, currentId } = get().images;
      if (list.length < 2) return;
      const i = list.findIndex((e) => e.id === currentId);
      const next = list[(i + delta + list.length) % list.length];
      if (next) get().selectImage(next.id);
    },

    removeImage(id) {
      const { list, currentId } = get().images;
      const i = list.findIndex((e) => e.id === id);
      const entry = list[i];
      if (!entry) return;
      if (entry.url) d.revokeObjectUrl(entry.url);
      const rest = list.filter((e) => e.id !== id);
      const nextCurrent = currentId === id ? (rest[Math.min(i, rest.length - 1)]?.id ?? null) : currentId;
      patch('images', { list: rest, currentId: nextCurrent });
      if (currentId === id) {
        set((s) => ({ run: emptyRun(s.run.seq + 1) }));
        if (nextCurrent) void get().runCurrent();
      }
    },

    async loadModel(source: ModelSource, label: string, options: LoadChoices = {}) {
      const client = get().engine.client;
      if (!client) return;
      const seq = ++loadSeq;
      const live = () => seq === loadSeq;
      const arch = options.arch?.trim() || undefined;
      const inputSize = options.inputSize;
      const choices: LoadChoices = { ...(arch ? { arch } : {}), ...(inputSize ? { inputSize } : {}) };
      pending = { source, label, choices };
      const runtime = wantedRuntime(get());
      patch('model', { status: 'loading', label, progress: null, error: null, errorLabel: null });
      try {
        const device = get().settings.device;
        const info = await client.loadModel(source, (read, total) => { if (live()) patch('model', { progress: { read, total } }); },
          { ...(runtime ? { runtime } : {}), device, ...choices });
        if (!live()) return;
        pending = null;
        const prev = get().model.info;
        const recent = source.kind === 'bytes' ? get().model.recent : pushRecent(get().model.recent, { label, source });
        saveRecent(d.storage, recent);
        patch('model', { info, source, choices, status: 'ready', label: info.name || label, progress: null, error: null, recent });
        afterModel(info, prev);
        await get().runCurrent();
      } catch (e) {
        if (!live()) return;
        pending = null;
        // A failed load leaves the previous model usable (the engine keeps it).
        const prev = get().model.info;
        patch('model', {
          status: prev ? 'ready' : 'error', progress: null, error: toUserError(e, 'Could not load the model'), errorLabel: label,
          ...(prev ? { label: prev.name } : {}),
        });
      }
    },

    async reloadModel() {
      const { source, info, label, choices } = get().model;
      const again = pending ?? (source && info ? { source, label: label ?? info.name, choices } : null);
      if (again) await get().loadModel(again.source, again.label, again.choices);
    },

    async runCurrent() {
      const s = get();
      const client = s.engine.client;
      const image = current();
      if (!client || s.model.status !== 'ready' || !image) return;
      const seq = s.run.seq + 1;
      const bypass = [...s.modules.bypass];
      const sameImage = s.run.imageId === image.id;
      set((st) => ({
        run: {
          ...(sameImage ? st.run : emptyRun()),
          seq, status: 'running', imageId: image.id, bypass, error: null, startedAt: d.now(),
          received: 0, total: sameImage ? st.run.total : 0, tiles: null,
        },
      }));
      const live = () => get().run.seq === seq;
      try {
        const tiled = s.settings.tile > 0;
        const options = { ...(tiled ? { tile: { size: s.settings.tile } } : { resize: s.settings.resize }), bypass, ...preprocessOptions(s.model.preprocess, tiled) };
        const done = await client.run(sourceForRun(image), options, {
          onStarted: (e) => {
            if (!live()) return;
            patch('run', { runId: e.runId, image: e.image, transform: e.transform });
          },
          onProgress: (e) => {
            if (!live()) return;
            patch('run', { tiles: { done: e.done, total: e.total } });
          },
          onTap: (e) => {
            if (!live()) return;
            set((st) => ({
              run: {
                ...st.run,
                taps: { ...st.run.taps, [e.module]: { ...st.run.taps[e.module], [e.tap]: { shape: e.shape, data: e.data } } },
                received: e.index + 1,
                total: e.total,
              },
            }));
          },
          onPrediction: (e) => {
            if (!live()) return;
            patch('run', { predictions: e.top });
            if (bypass.length === 0) {
              set((st) => ({ analysis: { ...st.analysis, baseline: { ...st.analysis.baseline, [image.id]: e.top } } }));
            }
          },
        });
        if (!live()) return;
        patch('run', { status: 'done', timings: done.timings, runId: done.runId });
        set((st) => ({ engine: { ...st.engine, backend: done.backend || st.engine.backend } }));
        if (done.notice) get().showToast(done.notice, 'error');
        const pick = get().analysis.channel;
        if (pick) void get().pickChannel(pick.module, pick.channel);
        if (get().settings.layout === 'compare') void get().requestCam();
        if (get().settings.layout === 'grid') void get().requestStageCams();
      } catch (e) {
        if (isCancelled(e) || !live()) return;
        patch('run', { status: 'error', error: toUserError(e, 'The run failed') });
      }
    },

    toggleBypass(module) {
      const { bypass } = get().modules;
      const next = bypass.includes(module) ? bypass.filter((b) => b !== module) : [...bypass, module];
      patch('modules', { bypass: next });
      void get().runCurrent();
    },

    setPreprocess(p) {
      patch('model', { preprocess: { ...get().model.preprocess, ...p } });
      void get().runCurrent();
    },

    clearBypass() {
      if (get().modules.bypass.length === 0) return;
      patch('modules', { bypass: [] });
      void get().runCurrent();
    },

    async queryPoint(module, point) {
      const { client } = get().engine;
      const runId = get().run.runId;
      if (!client || !runId) return;
      const base = { runId, module, point, cell: null, map: null, error: null };
      set((s) => ({ analysis: { ...s.analysis, query: { ...base, map: s.analysis.query?.module === module ? s.analysis.query.map : null, status: 'pending' } } }));
      const stillAsked = () => { const q = get().analysis.query; return q?.runId === runId && q.point === point; };
      try {
        const r = await client.query(runId, module, point);
        if (!stillAsked()) return;
        const steps = r.steps?.map((st) => ({ label: st.label, map: { shape: r.shape, data: st.data } }));
        set((s) => ({ analysis: { ...s.analysis, query: { ...base, cell: r.cell, map: { shape: r.shape, data: r.data }, ...(steps ? { steps, label: r.label ?? 'affinity' } : {}), status: 'done' } } }));
      } catch (e) {
        if (!stillAsked()) return;
        set((s) => ({ analysis: { ...s.analysis, query: { ...base, status: 'error', error: toUserError(e, 'The query failed') } } }));
      }
    },

    clearQuery() {
      set((s) => ({ analysis: { ...s.analysis, query: null } }));
    },

    async pickChannel(module, channel) {
      if (channel === null) { set((s) => ({ analysis: { ...s.analysis, channel: null } })); return; }
      const { client } = get().engine;
      const runId = get().run.runId;
      set((s) => ({ analysis: { ...s.analysis, channel: { module, channel, map: null, status: 'pending' } } }));
      if (!client || !runId) return;
      const same = () => { const c = get().analysis.channel; return c?.module === module && c.channel === channel; };
      try {
        // `channelMap` answers that channel of the module's input features [H, W] for a kept
        // run. An older engine refuses it (bad-request) and the UI shows the module's
        // `activation` tap instead, saying so.
        const r = await client.request<ChannelMapReply>({ type: 'channelMap', runId, module, channel });
        if (!same()) return;
        set((s) => ({ analysis: { ...s.analysis, channel: { module, channel, map: { shape: r.shape, data: r.data }, status: 'done' } } }));
      } catch (e) {
        if (!same()) return;
        // bad-request: an engine from before `channelMap`. Anything else (the run is no
        // longer kept, the engine restarted ...) is an error the note names.
        const err = toUserError(e);
        const status = err.code === 'bad-request' ? 'unsupported' : 'error';
        set((s) => ({ analysis: { ...s.analysis, channel: { module, channel, map: null, status, ...(status === 'error' ? { error: err.message } : {}) } } }));
      }
    },

    async requestCam() {
      const s = get();
      const { client } = s.engine;
      const runId = s.run.runId;
      if (!client || !runId || s.run.status !== 'done') return;
      const top = s.run.predictions[0]?.index;
      const classIndex = s.analysis.camClass ?? top;
      if (classIndex === undefined) return;
      const method = s.settings.camMethod;
      // CAM is defined on the last stage only.
      const stage = method === 'cam' ? 4 : s.settings.camStage;
      const asked = { runId, method, stage, classIndex };
      const same = () => { const c = get().analysis.cam; return !!c && c.runId === runId && c.method === method && c.stage === stage && c.classIndex === classIndex; };
      const prev = s.analysis.cam;
      if (prev && same() && prev.status !== 'error') return;
      set((st) => ({ analysis: { ...st.analysis, cam: { ...asked, status: 'pending', map: null, progress: null, ms: null, error: null } } }));
      try {
        const r = await client.request<CamReply>({ type: 'cam', ...asked }, {
          onEvent: (ev) => {
            if (ev.type === 'camProgress' && same()) {
              set((st) => ({ analysis: { ...st.analysis, cam: { ...(st.analysis.cam as CamState), progress: { done: ev.done, total: ev.total } } } }));
            }
          },
        });
        if (!same()) return;
        set((st) => ({ analysis: { ...st.analysis, cam: { ...asked, status: 'done', map: { shape: r.shape, data: r.data }, ...(r.regions ? { regions: r.regions } : {}), progress: null, ms: r.ms, error: null } } }));
      } catch (e) {
        if (!same()) return;
        set((st) => ({ analysis: { ...st.analysis, cam: { ...asked, status: 'error', map: null, progress: null, ms: null, error: toUserError(e, 'The class evidence failed') } } }));
      }
    },

    async requestStageCams() {
      const s = get();
      const { client } = s.engine;
      const runId = s.run.runId;
      if (!client || !runId || s.run.status !== 'done') return;
      const classIndex = s.analysis.camClass ?? s.run.predictions[0]?.index;
      if (classIndex === undefined) return;
      const method = s.settings.camMethod;
      const stages = method === 'cam' ? [4] : [1, 2, 3, 4];
      for (const stage of stages) {
        const asked = { runId, method, stage, classIndex };
        const cur = get().analysis.stageCams[stage];
        if (cur && cur.runId === runId && cur.method === method && cur.classIndex === classIndex && cur.status !== 'error') continue;
        const still = () => get().run.runId === runId && get().settings.camMethod === method;
        if (!still()) return;
        const put = (c: CamState) => set((st) => ({ analysis: { ...st.analysis, stageCams: { ...st.analysis.stageCams, [stage]: c } } }));
        put({ ...asked, status: 'pending', map: null, progress: null, ms: null, error: null });
        try {
          const r = await client.request<CamReply>({ type: 'cam', ...asked });
          if (!still()) return;
          put({ ...asked, status: 'done', map: { shape: r.shape, data: r.data }, ...(r.regions ? { regions: r.regions } : {}), progress: null, ms: r.ms, error: null });
        } catch (e) {
          if (!still()) return;
          put({ ...asked, status: 'error', map: null, progress: null, ms: null, error: toUserError(e, 'The class evidence failed') });
        }
      }
    },

    setCamClass(index) {
      set((s) => ({ analysis: { ...s.analysis, camClass: index } }));
      if (get().settings.layout !== 'compare') get().setSetting('layout', 'compare');
      else void get().requestCam();
    },

    async startExport(destination) {
      const s = get();
      const { client } = s.engine;
      const image = current();
      if (!client || !image || !s.model.info) return;
      const modules = s.exporting.scope === 'current' && s.modules.focused
        ? [s.modules.focused.module]
        : s.model.info.modules.filter((m) => !s.modules.hidden.includes(m.name)).map((m) => m.name);
      patch('exporting', { status: 'running', progress: null, result: null, error: null });
      const request: Omit<ExportRequest, 'id'> = {
        type: 'export',
        image: sourceForRun(image),
        modules,
        kinds: s.exporting.kinds,
        settings: {
          colormap: s.settings.colormap, opacity: s.settings.opacity, normalise: s.settings.normalisation,
          interpolation: s.settings.interpolation, bypass: [...s.modules.bypass],
          // The maps the user sees: tiled when tiles are on, else at the model's input.
          ...(s.settings.tile ? { tile: { size: s.settings.tile } } : { resize: s.settings.resize }),
          ...preprocessOptions(s.model.preprocess, s.settings.tile > 0),
        },
        // Electron: a folder the user chose; web mode: the engine sends back a zip.
        destination: destination.dir ? { kind: 'dir', path: destination.dir } : { kind: 'download' },
      };
      try {
        const reply = await client.request<ExportDoneReply>({ ...request }, {
          onEvent: (ev) => {
            if (ev.type === 'exportProgress') patch('exporting', { progress: { done: ev.done, total: ev.total } });
          },
        });
        if (reply.archive) d.download(reply.archive.bytes, reply.archive.name);
        patch('exporting', { status: 'done', progress: null, result: { dir: reply.dir, files: reply.files } });
      } catch (e) {
        patch('exporting', { status: 'error', progress: null, error: toUserError(e, 'Export failed') });
      }
    },

    markHeatmapPainted(runSeq) {
      const { metrics, run } = get();
      if (metrics.openedAt === null || metrics.firstHeatmapMs !== null || run.seq !== runSeq) return;
      const ms = d.now() - metrics.openedAt;
      set({ metrics: { ...metrics, firstHeatmapMs: ms } });
    },
  };
  return actions;
}
