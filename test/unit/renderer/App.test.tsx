// @vitest-environment jsdom
import { act, cleanup, fireEvent, render, screen, within } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { App } from '../../../renderer/App';
import { createAppStore, StoreProvider, type AppStore } from '../../../renderer/store';
import { FakeClient, flush, memoryStorage, RUNTIMES } from './fakeClient';

const png = () => new Uint8Array([137, 80, 78, 71]).buffer;

async function mount(client = new FakeClient()) {
  const store = createAppStore({ storage: memoryStorage(), createObjectUrl: () => null, download: () => {} });
  const view = render(<StoreProvider store={store}><App /></StoreProvider>);
  await act(async () => { await store.getState().attachClient(client); });
  return { store, client, view, s: () => store.getState() };
}

async function withImage(store: AppStore) {
  await act(async () => { store.getState().addImages([{ name: 'cat.png', bytes: png() }]); await flush(); });
}

afterEach(cleanup);

describe('App', () => {
  it('first screen: says what to do, offers the samples and shows the engine in the status bar', async () => {
    await mount();
    expect(screen.getByText('Drop an image anywhere')).toBeTruthy();
    expect(screen.getByRole('button', { name: /Open image…/ })).toBeTruthy();
    expect(document.querySelectorAll('button.sample').length).toBeGreaterThanOrEqual(2);
    const bar = within(screen.getByTestId('statusbar'));
    expect(bar.getByTestId('backend').textContent).toBe('cpu');
    expect(bar.getByTestId('runtime').textContent).toBe('ort');
    expect(screen.getByTestId('model-picker').textContent).toContain('tiny-cbam');
  });

  it('an engine it cannot reach gets a card that says how to start one', async () => {
    const client = new FakeClient();
    client.hello = async () => { throw new Error('WebSocket closed before the engine answered'); };
    await mount(client);
    expect(screen.getByText('Can’t reach the engine')).toBeTruthy();
    expect(screen.getByText(/attnscope serve/)).toBeTruthy();
  });

  it('a model that fails to load says why and offers to open another', async () => {
    const client = new FakeClient();
    client.loadError = Object.assign(new Error('not a PyTorch checkpoint: no data.pkl and no pickle header'), { code: 'bad-checkpoint' });
    await mount(client);
    const card = screen.getByTestId('model-error');
    expect(card.textContent).toContain('no data.pkl');
    expect(within(card).getByRole('button', { name: /Open another model/ })).toBeTruthy();
  });

  it('shows load progress in the model picker while a checkpoint loads', async () => {
    const client = new FakeClient();
    let finish!: () => void;
    const { s } = await mount(client);
    client.loadModel = async (_src, onProgress) => {
      onProgress?.(30, 120);
      await new Promise<void>((r) => { finish = r; });
      return s().model.info!;
    };
    let loading!: Promise<void>;
    await act(async () => { loading = s().loadModel({ kind: 'bytes', name: 'big.pth', bytes: new ArrayBuffer(8) }, 'big.pth'); await flush(); });
    expect(screen.getByTestId('model-picker').textContent).toContain('Loading big.pth');
    const bar = screen.getByTestId('model-progress').firstElementChild as HTMLElement;
    expect(bar.style.width).toBe('25%');
    await act(async () => { finish(); await loading; });
    expect(screen.queryByTestId('model-progress')).toBeNull();
  });

  it('after an image: module tree by stage, predictions, channel chart, status', async () => {
    const { store } = await mount();
    await withImage(store);
    const tree = screen.getByRole('tree');
    expect(within(tree).getAllByRole('group').map((g) => g.getAttribute('aria-label'))).toEqual(['layer1', 'layer2', 'layer3']);
    expect(within(screen.getByTestId('predictions')).getAllByRole('listitem')[0]!.textContent).toContain('cat60.0%');
    expect(screen.getByTestId('run-time').textContent).toContain('13 ms');
    expect(screen.getByTestId('caption').textContent).toContain('nl3');
    // nl3 has no channel gate; focus a CBAM module to get its chart.
    fireEvent.click(document.querySelector('[data-module="layer1.0.cbam"]')!);
    expect(screen.getByTestId('below').textContent).toMatch(/^4/);
    expect(screen.getByText('Entropy')).toBeTruthy();
  });

  it('the eye hides a module overlay and the switch bypasses it, re-running and showing the change', async () => {
    const { store, client, s } = await mount();
    await withImage(store);
    fireEvent.click(screen.getByRole('button', { name: 'Hide nl3 overlay' }));
    expect(s().modules.hidden).toEqual(['nl3']);
    expect(screen.queryByTestId('caption')).toBeNull();
    fireEvent.click(screen.getByRole('button', { name: 'Show nl3 overlay' }));
    expect(screen.getByTestId('caption')).toBeTruthy();
    await act(async () => { fireEvent.click(screen.getByRole('switch', { name: 'Bypass layer2.0.cbam' })); await flush(); });
    expect(client.runs.at(-1)!.options.bypass).toEqual(['layer2.0.cbam']);
    expect(screen.getByTestId('bypass-bar').textContent).toContain('1 bypassed');
    const first = within(screen.getByTestId('predictions')).getAllByRole('listitem')[0]!;
    expect(first.textContent).toContain('dog40.0%+20.0');
    expect(screen.getByTestId('top1-change').textContent).toBe('Top-1 changed: cat (60.0%) → dog (40.0%)');
    await act(async () => { fireEvent.click(screen.getByRole('button', { name: 'Restore all' })); await flush(); });
    expect(client.runs.at(-1)!.options.bypass).toEqual([]);
  });

  it('clicking a channel bar shows the map the engine sends for that channel', async () => {
    const { store, s, client } = await mount();
    await withImage(store);
    fireEvent.click(document.querySelector('[data-module="layer1.0.cbam"]')!);
    const chart = screen.getByTestId('channel-chart');
    chart.getBoundingClientRect = () => ({ left: 0, top: 0, width: 80, height: 100, right: 80, bottom: 100, x: 0, y: 0, toJSON: () => ({}) });
    await act(async () => { fireEvent.click(chart, { clientX: 5, clientY: 50 }); await flush(); });
    expect(client.requests.at(-1)).toMatchObject({ type: 'channelMap', module: 'layer1.0.cbam', channel: 7 });
    expect(s().analysis.channel).toMatchObject({ module: 'layer1.0.cbam', channel: 7, status: 'done' });
    expect(screen.getByTestId('channel-note').textContent).toContain("Showing channel 7's activation");
    expect(screen.getByTestId('caption').textContent).toContain('channel 7 activation');
    expect(screen.getByTestId('caption').textContent).not.toContain('not available');
  });

  it('clicking a channel bar on an older engine explains the activation fallback', async () => {
    const { store, s, client } = await mount();
    client.channelMapSupported = false;
    await withImage(store);
    fireEvent.click(document.querySelector('[data-module="layer1.0.cbam"]')!);
    const chart = screen.getByTestId('channel-chart');
    chart.getBoundingClientRect = () => ({ left: 0, top: 0, width: 80, height: 100, right: 80, bottom: 100, x: 0, y: 0, toJSON: () => ({}) });
    await act(async () => { fireEvent.click(chart, { clientX: 5, clientY: 50 }); await flush(); });
    // Sorted high to low: the first bar is the largest weight, channel 7.
    expect(s().analysis.channel).toMatchObject({ module: 'layer1.0.cbam', channel: 7, status: 'unsupported' });
    expect(s().modules.focused).toEqual({ module: 'layer1.0.cbam', tap: 'channel' });
    expect(screen.getByTestId('channel-note').textContent).toContain('activation map');
    expect(screen.getByTestId('caption').textContent).toContain('activation (channel 7 map not available)');
  });

  it('keyboard: colormap, opacity, modules, stages, grid, shortcut sheet, export', async () => {
    const { store, s, client } = await mount();
    await withImage(store);
    fireEvent.keyDown(window, { key: 'c' });
    expect(s().settings.colormap).toBe('turbo');
    fireEvent.keyDown(window, { key: '-' });
    expect(s().settings.opacity).toBe(0.5);
    fireEvent.keyDown(window, { key: '1' });
    expect(s().modules.focused?.module).toBe('layer1.0.cbam');
    fireEvent.keyDown(window, { key: ']' });
    expect(s().modules.focused?.module).toBe('layer2.0.cbam');
    fireEvent.keyDown(window, { key: 'g' });
    expect(screen.getByTestId('grid').querySelectorAll('.thumb[data-module]')).toHaveLength(4);
    // ...and a class-evidence cell closing each stage's row.
    expect(screen.getByTestId('grid').querySelectorAll('.cam-thumb')).toHaveLength(screen.getByTestId('grid').querySelectorAll('.stage-label').length);
    fireEvent.click(screen.getByTestId('grid').querySelector('[data-module="nl3"]')!);
    expect(s().settings.layout).toBe('single');
    expect(s().modules.focused?.module).toBe('nl3');
    fireEvent.keyDown(window, { key: '?' });
    expect(screen.getByTestId('shortcuts')).toBeTruthy();
    fireEvent.keyDown(window, { key: 'Escape' });
    expect(screen.queryByTestId('shortcuts')).toBeNull();
    fireEvent.keyDown(window, { key: 'e' });
    const dialog = screen.getByTestId('export-dialog');
    await act(async () => { fireEvent.click(within(dialog).getByRole('button', { name: 'Export' })); await flush(); });
    expect(client.requests.find((r) => r.type === 'export')).toMatchObject({ modules: ['nl3'], kinds: ['overlay', 'heatmap'] });
    expect(within(dialog).getByRole('status').textContent).toContain('Wrote 2 files');
  });

  it('dropping files anywhere opens them: several images become a filmstrip stepped with the arrows', async () => {
    const { s } = await mount();
    const files = [new File([png()], 'a.png', { type: 'image/png' }), new File([png()], 'b.jpg', { type: 'image/jpeg' })];
    await act(async () => {
      fireEvent.drop(window, { dataTransfer: { files, types: ['Files'] } });
      await new Promise((r) => setTimeout(r, 20));
    });
    expect(s().images.list.map((i) => i.name)).toEqual(['a.png', 'b.jpg']);
    expect(screen.getByTestId('filmstrip').querySelectorAll('.film')).toHaveLength(2);
    await act(async () => { fireEvent.keyDown(window, { key: 'ArrowRight' }); await flush(); });
    expect(s().images.currentId).toBe(s().images.list[1]!.id);
  });

  it('a dropped file that is neither an image nor a model gets a message', async () => {
    await mount();
    await act(async () => {
      fireEvent.drop(window, { dataTransfer: { files: [new File(['x'], 'notes.txt', { type: 'text/plain' })], types: ['Files'] } });
      await flush();
    });
    expect(screen.getByTestId('toast').textContent).toContain('Not an image or a checkpoint: notes.txt');
  });
});

describe('runtime', () => {
  it('the status bar shows the runtime, its backend and threads, with the detail as tooltip', async () => {
    await mount();
    const item = screen.getByTestId('runtime-item');
    expect(item.textContent).toBe('ort · cpu · 2 threads');
    expect(item.getAttribute('title')).toBe(RUNTIMES.ort.detail);
  });

  it('before a model, the status bar shows the runtime hello named', async () => {
    const client = new FakeClient();
    client.helloExtra = { runtime: RUNTIMES.tfjs, backend: 'tfjs wasm' };
    const store = createAppStore({ storage: memoryStorage(), createObjectUrl: () => null, download: () => {}, autoLoadModel: false });
    render(<StoreProvider store={store}><App /></StoreProvider>);
    await act(async () => { await store.getState().attachClient(client); });
    expect(screen.getByTestId('runtime-item').textContent).toBe('tfjs · wasm · 1 thread');
    expect(screen.getByTestId('runtime-item').getAttribute('title')).toBe(RUNTIMES.tfjs.detail);
  });

  it('the side panel switches runtime: the model loads again on it, the image re-runs and the status bar says so', async () => {
    const { store, s, client } = await mount();
    await withImage(store);
    const group = screen.getByRole('group', { name: 'Runtime' });
    const ort = within(group).getByRole('button', { name: 'ONNX Runtime' });
    const tfjs = within(group).getByRole('button', { name: 'TensorFlow.js' });
    expect(ort.getAttribute('title')).toBe('ONNX Runtime: fastest on CPU (default)');
    expect(tfjs.getAttribute('title')).toBe('TensorFlow.js: has gradients (Grad-CAM)');
    expect(ort.getAttribute('aria-pressed')).toBe('true');
    expect(screen.getByTestId('runtime-note').textContent).toBe(RUNTIMES.ort.detail);
    const runs = client.runs.length;
    await act(async () => { fireEvent.click(tfjs); await flush(); });
    expect(client.loads.at(-1)?.runtime).toBe('tfjs');
    expect(client.runs).toHaveLength(runs + 1);
    expect(s().settings.runtime).toBe('tfjs');
    expect(tfjs.getAttribute('aria-pressed')).toBe('true');
    expect(screen.getByTestId('runtime-item').textContent).toBe('tfjs · wasm · 1 thread');
    expect(screen.getByTestId('run-time')).toBeTruthy();
  });

  it('offers only the runtimes the engine names, and none to switch to while a model loads', async () => {
    const client = new FakeClient();
    const hello = await client.hello();
    client.helloExtra = { capabilities: { ...hello.capabilities, runtimes: undefined } };
    const { s } = await mount(client);
    const group = screen.getByRole('group', { name: 'Runtime' });
    expect(within(group).getAllByRole('button').map((b) => b.textContent)).toEqual(['ONNX Runtime']);
    let finish!: () => void;
    client.loadModel = async () => { await new Promise<void>((r) => { finish = r; }); return s().model.info!; };
    let loading!: Promise<void>;
    await act(async () => { loading = s().loadModel({ kind: 'builtin', name: 'tiny-cbam' }, 'tiny-cbam'); await flush(); });
    expect((within(group).getByRole('button') as HTMLButtonElement).disabled).toBe(true);
    await act(async () => { finish(); await loading; });
    expect((within(group).getByRole('button') as HTMLButtonElement).disabled).toBe(false);
  });
});

describe('engine restarts', () => {
  it('says the engine is restarting, then goes back to the view', async () => {
    const client = new FakeClient();
    const { store } = await mount(client);
    await withImage(store);
    act(() => client.emitStatus({ state: 'restarting', message: 'The engine stopped unexpectedly.' }));
    expect(screen.getByTestId('engine-restarting').textContent).toContain('The engine stopped unexpectedly.');
    expect(screen.getByTestId('viewport')).toBeTruthy();
    act(() => client.emitStatus({ state: 'ready', message: 'Engine restarted; model reloaded.' }));
    expect(screen.queryByTestId('engine-restarting')).toBeNull();
    expect(screen.getByTestId('statusbar').textContent).toContain('Engine restarted; model reloaded.');
  });

  it('module rows can be focused from the keyboard', async () => {
    const { store, s } = await mount();
    await withImage(store);
    const row = document.querySelector('[data-module="layer2.1.cbam"]') as HTMLElement;
    fireEvent.keyDown(row, { key: 'Enter' });
    expect(s().modules.focused?.module).toBe('layer2.1.cbam');
  });
});
