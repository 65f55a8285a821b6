import { describe, expect, it } from 'vitest';
import { createAppStore, type StoreDeps } from '../../../renderer/store';
import { selectDisplayedMap, predictionDeltas } from '../../../renderer/store/selectors';
import { FakeClient, flush, memoryStorage, MODEL, RUNTIMES } from './fakeClient';

const png = () => new Uint8Array([137, 80, 78, 71, 1, 2, 3]).buffer;

async function ready(deps: StoreDeps = {}, client = new FakeClient()) {
  const store = createAppStore({ storage: memoryStorage(), createObjectUrl: () => 'blob:x', download: () => {}, ...deps });
  await store.getState().attachClient(client);
  return { store, client, s: () => store.getState() };
}

describe('store: connecting and loading', () => {
  it('takes backend, runtime, version and the engine colormaps from hello, and loads the first built-in model', async () => {
    const { s, client } = await ready();
    expect(s().engine.state).toBe('ready');
    expect(s().engine.backend).toBe('ort cpu');
    expect(s().engine.runtime).toEqual(RUNTIMES.ort);
    expect(s().engine.runtimes).toEqual(['ort', 'tfjs']);
    // On the runtime in settings (default ort), remembering where the model came from.
    expect(client.loads).toEqual([{ source: { kind: 'builtin', name: 'tiny-cbam' }, runtime: 'ort' }]);
    expect(s().model.source).toEqual({ kind: 'builtin', name: 'tiny-cbam' });
    expect(s().model.info?.runtime).toEqual(RUNTIMES.ort);
    expect(s().engine.colormaps.map((c) => c.name)).toEqual(['viridis', 'turbo', 'gray']);
    expect(s().model.status).toBe('ready');
    expect(s().model.info?.arch).toBe('resnet-tiny-cbam-nl');
    // Without a manifest suggestion, focus goes to the deepest module with a map.
    expect(s().modules.focused).toEqual({ module: 'nl3', tap: 'attention' });
    expect(s().model.recent[0]).toEqual({ label: 'tiny-cbam', source: { kind: 'builtin', name: 'tiny-cbam' } });
  });

  it('uses a model the host preloaded (hello.model) instead of loading one', async () => {
    const client = new FakeClient();
    client.helloExtra = { model: { ...MODEL, name: 'preloaded', runtime: RUNTIMES.ort } };
    const { s } = await ready({}, client);
    expect(s().model.info?.name).toBe('preloaded');
    expect(client.loads).toEqual([]);
    // Not a built-in name (the host loaded it from a path): it cannot be loaded again on another runtime.
    expect(s().model.source).toBeNull();
    s().setSetting('runtime', 'tfjs');
    await flush();
    expect(client.loads).toEqual([]);
    expect(s().model.info?.runtime?.runtime).toBe('ort');
  });

  it('a preloaded built-in model can be loaded again on another runtime', async () => {
    const client = new FakeClient();
    client.helloExtra = { model: { ...MODEL, runtime: RUNTIMES.ort } };
    const { s } = await ready({}, client);
    expect(s().model.source).toEqual({ kind: 'builtin', name: 'tiny-cbam' });
    s().setSetting('runtime', 'tfjs');
    await flush();
    expect(client.loads).toEqual([{ source: { kind: 'builtin', name: 'tiny-cbam' }, runtime: 'tfjs' }]);
    expect(s().model.info?.runtime?.runtime).toBe('tfjs');
  });

  it('reports a load error with its hint and keeps no model', async () => {
    const client = new FakeClient();
    client.loadError = Object.assign(new Error('not a PyTorch checkpoint: no data.pkl and no pickle header'), { code: 'bad-checkpoint', hint: 'Choose a .pth or .safetensors file.' });
    const { s } = await ready({}, client);
    expect(s().model.status).toBe('error');
    expect(s().model.error).toEqual({ code: 'bad-checkpoint', message: 'not a PyTorch checkpoint: no data.pkl and no pickle header', hint: 'Choose a .pth or .safetensors file.' });
  });

  it('says the engine is unreachable when hello fails', async () => {
    const client = new FakeClient();
    client.hello = async () => { throw Object.assign(new Error('socket closed'), { code: 'disconnected', hint: 'Run attnscope serve.' }); };
    const { s } = await ready({}, client);
    expect(s().engine.state).toBe('disconnected');
    expect(s().engine.message).toBe('socket closed. Run attnscope serve.');
  });

  it('follows the connection status the client reports', async () => {
    const { s, client } = await ready();
    client.emitStatus({ state: 'restarting', message: 'Engine stopped; restarting' });
    expect(s().engine.state).toBe('restarting');
    expect(s().engine.message).toBe('Engine stopped; restarting');
  });
});

describe('store: runs', () => {
  it('runs a dropped image, streams every tap into the store, and keeps the predictions as the baseline', async () => {
    const { s, client } = await ready();
    s().addImages([{ name: 'a.png', bytes: png() }]);
    await flush();
    expect(client.runs).toHaveLength(1);
    expect(client.runs[0]!.image.kind).toBe('bytes');
    const run = s().run;
    expect(run.status).toBe('done');
    expect(run.received).toBe(run.total);
    expect(run.total).toBe(11);
    expect(Object.keys(run.taps)).toEqual(MODEL.modules.map((m) => m.name));
    expect(run.taps['layer1.0.cbam']?.spatial?.shape).toEqual([4, 4]);
    expect(run.transform?.origWidth).toBe(40);
    expect(s().analysis.baseline[s().images.currentId!]?.[0]?.label).toBe('cat');
  });

  it('sends a copy of the image bytes, so a transferring client cannot detach the ones the page keeps', async () => {
    const { s, client } = await ready();
    const bytes = png();
    s().addImages([{ name: 'a.png', bytes }]);
    await flush();
    const sent = client.runs[0]!.image as { bytes: ArrayBuffer };
    expect(sent.bytes).not.toBe(bytes);
    expect(new Uint8Array(sent.bytes)).toEqual(new Uint8Array(bytes));
  });

  it('drops the events of a superseded run', async () => {
    const client = new FakeClient();
    const { s } = await ready({}, client);
    let open!: () => void;
    client.gate = new Promise((r) => { open = r; });
    s().addImages([{ name: 'a.png', bytes: png() }, { name: 'b.png', bytes: png() }]);
    const first = s().run.seq;
    s().stepImage(1); // supersedes the first run before it streams
    open();
    await flush(); await flush();
    expect(client.runs).toHaveLength(2);
    expect(s().run.seq).toBe(first + 1);
    expect(s().run.status).toBe('done');
    expect(s().run.imageId).toBe(s().images.list[1]!.id);
  });

  it('bypass re-runs without the module and compares the top-5 with the full model', async () => {
    const { s, client } = await ready();
    s().addImages([{ name: 'a.png', bytes: png() }]);
    await flush();
    s().toggleBypass('layer2.0.cbam');
    await flush();
    expect(client.runs[1]!.options.bypass).toEqual(['layer2.0.cbam']);
    expect(s().run.bypass).toEqual(['layer2.0.cbam']);
    const deltas = predictionDeltas(s().run.predictions, s().run.bypass, s().analysis.baseline[s().run.imageId!]);
    expect(deltas?.[0]).toMatchObject({ label: 'dog', probability: 0.4, before: 0.2, rankBefore: 2 });
    s().clearBypass();
    await flush();
    expect(client.runs[2]!.options.bypass).toEqual([]);
  });

  it('preprocessing over the model\'s own: the input size, mean and std go with the run; tiles drop the size; another model resets them', async () => {
    const { s, client } = await ready();
    s().addImages([{ name: 'a.png', bytes: png() }]);
    await flush();
    expect(client.runs[0]!.options).not.toHaveProperty('inputSize');
    s().setPreprocess({ inputSize: 320, mean: [0.5, 0.5, 0.5] });
    await flush();
    expect(client.runs[1]!.options).toMatchObject({ inputSize: 320, mean: [0.5, 0.5, 0.5] });
    expect(client.runs[1]!.options).not.toHaveProperty('std');
    s().setSetting('tile', 256);
    await flush();
    expect(client.runs[2]!.options).toMatchObject({ tile: { size: 256 }, mean: [0.5, 0.5, 0.5] });
    expect(client.runs[2]!.options).not.toHaveProperty('inputSize');
    s().setSetting('tile', 0);
    // The same model on another runtime keeps them.
    s().setSetting('runtime', 'tfjs');
    await flush();
    expect(client.runs[client.runs.length - 1]!.options).toMatchObject({ inputSize: 320, mean: [0.5, 0.5, 0.5] });
    client.modelOverride = { weightsSha256: 'another' };
    await s().loadModel({ kind: 'path', path: '/models/other.pth' }, 'other.pth');
    await flush();
    expect(s().model.preprocess).toEqual({ inputSize: null, mean: null, std: null });
    expect(client.runs[client.runs.length - 1]!.options).not.toHaveProperty('mean');
  });

  it('a runtime notice with a run (the GPU lost, the CPU took over) is shown, and the run is done', async () => {
    const { s, client } = await ready();
    client.notice = 'The GPU failed during a run (Device was lost); AttnScope switched to the CPU and ran it again.';
    s().addImages([{ name: 'a.png', bytes: png() }]);
    await flush();
    expect(s().run.status).toBe('done');
    expect(s().ui.toast).toMatchObject({ kind: 'error', text: expect.stringContaining('switched to the CPU') });
  });

  it('a run error is kept with its message, and cancellation is not an error', async () => {
    const { s, client } = await ready();
    client.run = async () => { throw Object.assign(new Error('"x.png" is not an image'), { code: 'bad-image', hint: 'Use JPEG or PNG.' }); };
    s().addImages([{ name: 'x.png', bytes: png() }]);
    await flush();
    expect(s().run.status).toBe('error');
    expect(s().run.error?.hint).toBe('Use JPEG or PNG.');
  });
});

describe('store: focus, visibility and the displayed map', () => {
  it('steps through visible modules with [ ] and focuses stages by number', async () => {
    const { s } = await ready();
    s().focus('layer1.0.cbam');
    expect(s().modules.focused).toEqual({ module: 'layer1.0.cbam', tap: 'spatial' });
    s().toggleVisible('layer2.0.cbam');
    s().stepModule(1);
    expect(s().modules.focused?.module).toBe('layer2.1.cbam');
    s().stepModule(1);
    expect(s().modules.focused).toEqual({ module: 'nl3', tap: 'attention' });
    s().stepModule(1);
    expect(s().modules.focused?.module).toBe('layer1.0.cbam');
    s().focusStage(2);
    expect(s().modules.focused?.module).toBe('layer2.1.cbam');
    s().focusStage(9); // no such stage: unchanged
    expect(s().modules.focused?.module).toBe('layer2.1.cbam');
  });

  it('shows nothing for a hidden module, and all/none toggles every module', async () => {
    const { s } = await ready();
    s().addImages([{ name: 'a.png', bytes: png() }]);
    await flush();
    s().focus('layer1.0.cbam');
    expect(selectDisplayedMap(s())?.tap).toBe('spatial');
    s().toggleVisible('layer1.0.cbam');
    expect(selectDisplayedMap(s())).toBeNull();
    s().setAllVisible(true);
    expect(selectDisplayedMap(s())).not.toBeNull();
    s().setAllVisible(false);
    expect(s().modules.hidden).toHaveLength(4);
  });

  it('non-local: shows the summary map, then the queried row with its point', async () => {
    const { s, client } = await ready();
    s().addImages([{ name: 'a.png', bytes: png() }]);
    await flush();
    expect(selectDisplayedMap(s())?.label).toMatch(/mean over queries/);
    await s().queryPoint('nl3', { x: 30, y: 5 });
    expect(client.queries[0]).toEqual({ runId: 'run1', module: 'nl3', point: { x: 30, y: 5 } });
    const shown = selectDisplayedMap(s());
    expect(shown?.query).toEqual({ x: 30, y: 5 });
    expect(Array.from(shown!.map.data)).toEqual([0.1, 0.7, 0.1, 0.1].map(Math.fround));
    s().clearQuery();
    expect(selectDisplayedMap(s())?.query).toBeNull();
  });

  it('dropping an image that is already in the filmstrip selects it instead of adding it again', async () => {
    const { s } = await ready();
    const a = () => new Uint8Array([137, 80, 78, 71, 1, 2, 3]).buffer;
    const b = () => new Uint8Array([137, 80, 78, 71, 9, 9, 9]).buffer;
    s().addImages([{ name: 'a.png', bytes: a() }]);
    await flush();
    s().addImages([{ name: 'b.png', bytes: b() }]);
    await flush();
    expect(s().images.list.map((i) => i.name)).toEqual(['a.png', 'b.png']);
    s().addImages([{ name: 'a.png', bytes: a() }]);
    await flush();
    expect(s().images.list.map((i) => i.name)).toEqual(['a.png', 'b.png']);
    expect(s().images.list.find((i) => i.id === s().images.currentId)?.name).toBe('a.png');
    // Same name, other bytes: another image.
    s().addImages([{ name: 'a.png', bytes: b() }]);
    await flush();
    expect(s().images.list).toHaveLength(3);
  });

  it('components: a [K, H, W] tap shows the picked component, the same object each time', async () => {
    const { store, s } = await ready();
    s().addImages([{ name: 'a.png', bytes: png() }]);
    await flush();
    const info = s().model.info!;
    const ema = { name: 'ema3', kind: 'ema' as const, stage: 'layer3', taps: ['maps' as const, 'activation' as const], channels: 8, mapSize: [2, 2] as [number, number] };
    const data = Float32Array.from({ length: 12 }, (_, i) => i);
    store.setState((st) => ({
      model: { ...st.model, info: { ...info, modules: [...info.modules, ema] } },
      run: { ...st.run, taps: { ...st.run.taps, ema3: { maps: { shape: [3, 2, 2], data }, activation: { shape: [2, 2], data: new Float32Array(4) } } } },
    }));
    s().focus('ema3');
    expect(s().modules.focused).toEqual({ module: 'ema3', tap: 'maps' });
    expect(Array.from(selectDisplayedMap(s())!.map.data)).toEqual([0, 1, 2, 3]);
    s().pickComponent('ema3', 'maps', 2);
    const shown = selectDisplayedMap(s())!;
    expect(Array.from(shown.map.data)).toEqual([8, 9, 10, 11]);
    expect(shown.label).toBe('component 3 of 3');
    expect(selectDisplayedMap(s())!.map).toBe(shown.map);
  });

  it('a channel-affinity matrix is never painted over the image', async () => {
    const { store, s } = await ready();
    s().addImages([{ name: 'a.png', bytes: png() }]);
    await flush();
    const info = s().model.info!;
    const cam = { name: 'cam3', kind: 'chanattn' as const, stage: 'layer3', taps: ['channel' as const, 'matrix' as const, 'activation' as const], channels: 2, mapSize: [2, 2] as [number, number] };
    store.setState((st) => ({
      model: { ...st.model, info: { ...info, modules: [...info.modules, cam] } },
      run: { ...st.run, taps: { ...st.run.taps, cam3: { matrix: { shape: [2, 2], data: new Float32Array(4) }, activation: { shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) } } } },
    }));
    s().focus('cam3', 'matrix');
    expect(selectDisplayedMap(s())).toMatchObject({ tap: 'activation', label: 'activation (its channel affinity is in the side panel)' });
  });

  it('a channel pick shows the map the engine answers for that channel', async () => {
    const { s, client } = await ready();
    s().addImages([{ name: 'a.png', bytes: png() }]);
    await flush();
    s().focus('layer1.0.cbam', 'channel');
    await s().pickChannel('layer1.0.cbam', 4);
    expect(client.requests[0]).toEqual({ type: 'channelMap', runId: 'run1', module: 'layer1.0.cbam', channel: 4 });
    expect(s().analysis.channel?.status).toBe('done');
    const shown = selectDisplayedMap(s());
    expect(shown).toMatchObject({ tap: 'channel', label: 'channel 4 activation' });
    expect(shown?.label).not.toMatch(/not available/);
    expect(Array.from(shown!.map.data)).toEqual([1, 2, 3, 4]);
  });

  it('a channel pick falls back to the activation map when the engine has no channelMap request', async () => {
    const { s, client } = await ready();
    client.channelMapSupported = false;
    s().addImages([{ name: 'a.png', bytes: png() }]);
    await flush();
    s().focus('layer1.0.cbam', 'channel');
    await s().pickChannel('layer1.0.cbam', 3);
    expect(s().analysis.channel?.status).toBe('unsupported');
    expect(selectDisplayedMap(s())).toMatchObject({ tap: 'activation', label: 'activation (channel 3 map not available)' });
  });

  it('a channel pick the engine cannot answer (run no longer kept) is an error with its message', async () => {
    const { s, client } = await ready();
    s().addImages([{ name: 'a.png', bytes: png() }]);
    await flush();
    s().focus('layer1.0.cbam', 'channel');
    client.request = async () => { throw Object.assign(new Error('Run "run1" is not kept any more.'), { code: 'not-found' }); };
    await s().pickChannel('layer1.0.cbam', 2);
    expect(s().analysis.channel).toMatchObject({ status: 'error', error: 'Run "run1" is not kept any more.' });
    expect(selectDisplayedMap(s())).toMatchObject({ tap: 'activation', label: 'activation (channel 2 map not available)' });
  });
});

describe('store: settings and export', () => {
  it('persists view settings and reads back only valid values', async () => {
    const storage = memoryStorage({ 'attnscope.settings.v1': JSON.stringify({ opacity: 7, normalisation: 'bogus', colormap: 'turbo', theme: 'dark' }) });
    const store = createAppStore({ storage });
    expect(store.getState().settings).toMatchObject({ opacity: 1, normalisation: 'minmax', colormap: 'turbo', theme: 'dark' });
    store.getState().setSetting('interpolation', 'nearest');
    store.getState().nudgeOpacity(-0.25);
    const again = createAppStore({ storage }).getState().settings;
    expect(again.interpolation).toBe('nearest');
    expect(again.opacity).toBe(0.75);
    const broken = createAppStore({ storage: memoryStorage({ 'attnscope.settings.v1': '{not json' }) });
    expect(broken.getState().settings.colormap).toBe('viridis');
  });

  it('persists the runtime and reads back only ort or tfjs', () => {
    const storage = memoryStorage();
    expect(createAppStore({ storage }).getState().settings.runtime).toBe('ort');
    createAppStore({ storage }).getState().setSetting('runtime', 'tfjs');
    expect(JSON.parse(storage.getItem('attnscope.settings.v1')!)).toMatchObject({ runtime: 'tfjs' });
    expect(createAppStore({ storage }).getState().settings.runtime).toBe('tfjs');
    for (const runtime of ['webgpu', 'TFJS', 3, null]) {
      const other = memoryStorage({ 'attnscope.settings.v1': JSON.stringify({ runtime, colormap: 'turbo' }) });
      expect(createAppStore({ storage: other }).getState().settings).toMatchObject({ runtime: 'ort', colormap: 'turbo' });
    }
  });

  it('tiles: the setting re-runs the image in tiles (no resize sent), persists, and reads back only offered sizes', async () => {
    const storage = memoryStorage();
    const { s, client } = await ready({ storage });
    s().addImages([{ name: 'a.png', bytes: png() }]);
    await flush();
    expect(client.runs.at(-1)!.options).toMatchObject({ resize: 'stretch' });
    s().setSetting('tile', 512);
    await flush();
    expect(client.runs).toHaveLength(2);
    expect(client.runs.at(-1)!.options.tile).toEqual({ size: 512 });
    expect(client.runs.at(-1)!.options.resize).toBeUndefined();
    expect(createAppStore({ storage }).getState().settings.tile).toBe(512);
    for (const tile of [300, -1, '512', null]) {
      const other = memoryStorage({ 'attnscope.settings.v1': JSON.stringify({ tile }) });
      expect(createAppStore({ storage: other }).getState().settings.tile).toBe(0);
    }
  });

  it('the device setting goes with every load, persists, and loads the model again where it changes', async () => {
    const storage = memoryStorage();
    const { s, client } = await ready({ storage });
    expect(client.devices).toEqual(['cpu']);
    s().setSetting('device', 'auto');
    await flush();
    expect(client.devices).toEqual(['cpu', 'auto']);
    expect(client.loads).toHaveLength(2);
    expect(createAppStore({ storage }).getState().settings.device).toBe('auto');
    const other = memoryStorage({ 'attnscope.settings.v1': JSON.stringify({ device: 'tpu' }) });
    expect(createAppStore({ storage: other }).getState().settings.device).toBe('cpu');
  });

  it('cycles through the engine colormaps', async () => {
    const { s } = await ready();
    expect(s().settings.colormap).toBe('viridis');
    s().cycleColormap();
    expect(s().settings.colormap).toBe('turbo');
    s().cycleColormap();
    s().cycleColormap();
    expect(s().settings.colormap).toBe('viridis');
    s().cycleColormap(-1);
    expect(s().settings.colormap).toBe('gray');
  });

  it('sends the export request with the view settings and saves the zip in web mode', async () => {
    const downloads: string[] = [];
    const { s, client } = await ready({ download: (_b, name) => downloads.push(name) });
    s().addImages([{ name: 'a.png', bytes: png() }]);
    await flush();
    s().setSetting('colormap', 'turbo');
    s().toggleBypass('nl3');
    await flush();
    s().setExport({ scope: 'all', kinds: ['heatmap', 'raw'] });
    await s().startExport({ dir: null });
    const req = client.requests.find((r) => r.type === 'export')!;
    expect(req).toMatchObject({
      type: 'export', modules: MODEL.modules.map((m) => m.name), kinds: ['heatmap', 'raw'], destination: { kind: 'download' },
      settings: { colormap: 'turbo', opacity: 0.6, normalise: 'minmax', interpolation: 'bilinear', resize: 'stretch', bypass: ['nl3'] },
    });
    expect(s().exporting.status).toBe('done');
    expect(s().exporting.result?.files).toEqual(['a.png', 'b.png']);
    expect(downloads).toEqual(['export.zip']);
  });

  it('records the time from opening an image to its first painted heatmap, once', async () => {
    let t = 1000;
    const { s } = await ready({ now: () => t });
    s().addImages([{ name: 'a.png', bytes: png() }]);
    await flush();
    t = 1234;
    s().markHeatmapPainted(s().run.seq);
    t = 2000;
    s().markHeatmapPainted(s().run.seq);
    expect(s().metrics.firstHeatmapMs).toBe(234);
  });
});

describe('store: runtime', () => {
  it('another runtime loads the model again on it and re-runs the image, keeping focus, bypass and the baseline', async () => {
    const { s, client } = await ready();
    s().addImages([{ name: 'a.png', bytes: png() }]);
    await flush();
    s().focus('layer1.0.cbam');
    s().toggleBypass('layer2.0.cbam');
    await flush();
    const runs = client.runs.length;
    const baseline = s().analysis.baseline;
    s().setSetting('runtime', 'tfjs');
    expect(s().model.status).toBe('loading');
    await flush();
    expect(client.loads.at(-1)).toEqual({ source: { kind: 'builtin', name: 'tiny-cbam' }, runtime: 'tfjs' });
    expect(s().model.status).toBe('ready');
    expect(s().model.info?.runtime).toEqual(RUNTIMES.tfjs);
    expect(client.runs).toHaveLength(runs + 1);
    expect(client.runs.at(-1)!.options.bypass).toEqual(['layer2.0.cbam']);
    expect(s().run.status).toBe('done');
    expect(s().engine.backend).toBe('tfjs wasm');
    expect(s().modules.focused).toEqual({ module: 'layer1.0.cbam', tap: 'spatial' });
    expect(s().analysis.baseline).toEqual(baseline);
    // The same runtime again: nothing to reload.
    s().setSetting('runtime', 'tfjs');
    await flush();
    expect(client.loads).toHaveLength(2);
    s().setSetting('runtime', 'ort');
    await flush();
    expect(client.loads.map((l) => l.runtime)).toEqual(['ort', 'tfjs', 'ort']);
    expect(s().model.info?.runtime?.runtime).toBe('ort');
  });

  it('loads nothing when no model is loaded; the next load uses the runtime', async () => {
    const { s, client } = await ready({ autoLoadModel: false });
    s().setSetting('runtime', 'tfjs');
    await flush();
    expect(client.loads).toEqual([]);
    expect(s().model.status).toBe('none');
    await s().loadModel({ kind: 'bytes', name: 'm.pth', bytes: new ArrayBuffer(8) }, 'm.pth');
    expect(client.loads.map((l) => l.runtime)).toEqual(['tfjs']);
    expect(s().model.source).toMatchObject({ kind: 'bytes', name: 'm.pth' });
  });

  it('asks for no runtime the engine does not offer (an engine without capabilities.runtimes)', async () => {
    const client = new FakeClient();
    const hello = await client.hello();
    client.helloExtra = { capabilities: { ...hello.capabilities, runtimes: undefined } };
    const { s } = await ready({ storage: memoryStorage({ 'attnscope.settings.v1': JSON.stringify({ runtime: 'tfjs' }) }) }, client);
    expect(s().engine.runtimes).toEqual(['ort']);
    expect(client.loads).toEqual([{ source: { kind: 'builtin', name: 'tiny-cbam' }, runtime: undefined }]);
  });

  it('a runtime chosen while a model loads loads that model on it; the superseded load leaves no error', async () => {
    const { s, client } = await ready({ autoLoadModel: false });
    let finishFirst!: () => void;
    const loadModel = client.loadModel.bind(client);
    client.loadModel = async (source, onProgress, options) => {
      if (client.loads.length === 0) {
        client.loads.push({ source, runtime: options?.runtime });
        await new Promise<void>((r) => { finishFirst = r; });
        throw Object.assign(new Error('Cancelled.'), { code: 'cancelled' });
      }
      return loadModel(source, onProgress, options);
    };
    const first = s().loadModel({ kind: 'builtin', name: 'tiny-cbam' }, 'tiny-cbam');
    await flush();
    s().setSetting('runtime', 'tfjs');
    await flush();
    finishFirst();
    await first;
    expect(client.loads.map((l) => l.runtime)).toEqual(['ort', 'tfjs']);
    expect(s().model).toMatchObject({ status: 'ready', error: null });
    expect(s().model.info?.runtime?.runtime).toBe('tfjs');
  });

  it('a model that fails to load on the other runtime stays on the one it ran on, and says why', async () => {
    const { s, client } = await ready();
    client.loadError = Object.assign(new Error('TensorFlow.js has no wasm backend here'), { code: 'backend-unavailable' });
    s().setSetting('runtime', 'tfjs');
    await flush();
    expect(s().model.status).toBe('ready');
    expect(s().model.info?.runtime?.runtime).toBe('ort');
    expect(s().model.error?.message).toBe('TensorFlow.js has no wasm backend here');
  });
});
