// @vitest-environment jsdom
// The Models dialog (issue 15): the store's hub actions over a scripted client (list, pull
// with progress, cancel and resume, an offline error, then the load), the client's cancel of
// a generic request, the dialog's rows and keys, and hub models in the picker's Recent list.
import { act, cleanup, fireEvent, render, screen, within } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import type { EngineMessage, HubModelState } from '../../../engine/protocol';
import { App } from '../../../renderer/App';
import { Client, type Transport } from '../../../renderer/client/client';
import type { ExtraRequest, RequestOptions } from '../../../renderer/client/types';
import { handleKey } from '../../../renderer/hooks/useShortcuts';
import { makeCommands } from '../../../renderer/hooks/useCommands';
import { createAppStore, StoreProvider } from '../../../renderer/store';
import { loadRecent } from '../../../renderer/store/persist';
import { FakeClient, flush, memoryStorage, MODEL } from './fakeClient';

const model = (name: string, cached = false): HubModelState => ({
  name, tag: 'a1_in1k', repo: `timm/${name}.a1_in1k`, family: 'SE-ResNet', attention: 'se', paramsM: 28.09, top1: 80.012, top5: 94.704,
  imageSize: 224, cropPct: 0.95, interpolation: 'bicubic', license: 'apache-2.0',
  paper: { title: 'Squeeze-and-Excitation Networks', cite: 'Hu et al., CVPR 2018', url: 'https://arxiv.org/abs/1709.01507' },
  cached, bytes: cached ? 1000 : 112_360_000, bytesEstimated: !cached,
});

interface HeldPull { name: string; options: RequestOptions; finish(): void; fail(e: Error): void }

/** FakeClient that also answers hubList and holds each hubPull open until the test finishes it. */
class HubClient extends FakeClient {
  models = [model('seresnet50'), model('botnet26t_256'), model('ecaresnet26t', true)];
  pulls: HeldPull[] = [];

  override async request<T extends { type: string }>(msg: ExtraRequest, options: RequestOptions = {}): Promise<T> {
    if (msg.type === 'hubList') { this.requests.push(msg); return { type: 'hubModels', id: 1, models: this.models } as unknown as T; }
    if (msg.type !== 'hubPull') return super.request<T>(msg, options);
    this.requests.push(msg);
    const name = msg.name as string;
    return new Promise<T>((resolve, reject) => {
      const cancelled = () => reject(Object.assign(new Error('Cancelled.'), { code: 'cancelled' }));
      if (options.signal?.aborted) { cancelled(); return; }
      options.signal?.addEventListener('abort', cancelled, { once: true });
      this.pulls.push({
        name, options,
        finish: () => resolve({ type: 'hubPulled', id: 2, name, repo: `timm/${name}.a1_in1k`, fromCache: false, sha256: 'cd'.repeat(32), bytes: 4242 } as unknown as T),
        fail: reject,
      });
    });
  }

  progress(bytes: number, total: number): void {
    this.pulls.at(-1)!.options.onEvent?.({ type: 'hubPullProgress', id: 2, file: 'model.safetensors', bytes, total });
  }
}

async function ready(client = new HubClient(), storage = memoryStorage()) {
  const store = createAppStore({ storage, createObjectUrl: () => null, download: () => {} });
  await store.getState().attachClient(client);
  // A hub load answers with the hub model's name, as the engine's Session does.
  client.loadModel = async (source, onProgress) => {
    client.loads.push({ source, runtime: undefined });
    onProgress?.(1, 2);
    if (client.loadError) throw client.loadError;
    return { ...MODEL, name: source.kind === 'hub' || source.kind === 'builtin' ? source.name : 'x', weightsSha256: source.kind === 'hub' ? 'ef'.repeat(32) : MODEL.weightsSha256 };
  };
  return { store, client, storage, s: () => store.getState() };
}

afterEach(cleanup);

describe('store: the hub catalogue', () => {
  it('opening the dialog lists the catalogue with each model’s cache state', async () => {
    const { s, client } = await ready();
    s().openCatalogue(true);
    expect(s().hub.open).toBe(true);
    expect(s().hub.status).toBe('loading');
    await flush();
    expect(client.requests.filter((r) => r.type === 'hubList')).toHaveLength(1);
    expect(s().hub.status).toBe('ready');
    expect(s().hub.models.map((m) => [m.name, m.cached])).toEqual([['seresnet50', false], ['botnet26t_256', false], ['ecaresnet26t', true]]);
    s().openCatalogue(false);
    expect(s().hub.open).toBe(false);
  });

  it('a listing that fails keeps the error with its hint', async () => {
    const client = new HubClient();
    const { s } = await ready(client);
    client.request = async () => { throw Object.assign(new Error('This engine does not handle "hubList" requests.'), { code: 'bad-request', hint: 'Update the app.' }); };
    await s().refreshCatalogue();
    expect(s().hub.status).toBe('error');
    expect(s().hub.error).toEqual({ code: 'bad-request', message: 'This engine does not handle "hubList" requests.', hint: 'Update the app.' });
  });

  it('a download shows its progress, then the model loads, lands in Recent (persisted) and the dialog closes', async () => {
    const { s, client, storage } = await ready();
    s().openCatalogue(true);
    await flush();
    const done = s().pullHubModel('seresnet50');
    expect(client.requests.at(-1)).toEqual({ type: 'hubPull', name: 'seresnet50' });
    expect(s().hub.pulls.seresnet50).toMatchObject({ status: 'downloading', bytes: 0, total: 0 });
    client.progress(1000, 4000);
    expect(s().hub.pulls.seresnet50).toMatchObject({ status: 'downloading', file: 'model.safetensors', bytes: 1000, total: 4000 });
    // A second click while it runs does not start another download.
    void s().pullHubModel('seresnet50');
    expect(client.pulls).toHaveLength(1);
    client.progress(4000, 4000);
    client.pulls[0]!.finish();
    await done;
    expect(client.loads.at(-1)!.source).toEqual({ kind: 'hub', name: 'seresnet50' });
    expect(s().model.status).toBe('ready');
    expect(s().model.info?.name).toBe('seresnet50');
    expect(s().model.source).toEqual({ kind: 'hub', name: 'seresnet50' });
    expect(s().hub.open).toBe(false);
    expect(s().hub.pulls.seresnet50).toBeUndefined();
    expect(s().hub.models.find((m) => m.name === 'seresnet50')).toMatchObject({ cached: true, bytes: 4242, bytesEstimated: false });
    const entry = { label: 'seresnet50', source: { kind: 'hub', name: 'seresnet50' } };
    expect(s().model.recent[0]).toEqual(entry);
    expect(loadRecent(storage)[0]).toEqual(entry);
  });

  it('cancel stops the download and keeps what arrived; Resume asks again and finishes', async () => {
    const { s, client } = await ready();
    s().openCatalogue(true);
    await flush();
    const first = s().pullHubModel('botnet26t_256');
    client.progress(1500, 6000);
    s().cancelHubPull('botnet26t_256');
    await first;
    expect(client.pulls[0]!.options.signal?.aborted).toBe(true);
    expect(s().hub.pulls.botnet26t_256).toMatchObject({ status: 'cancelled', bytes: 1500, total: 6000 });
    expect(s().hub.open).toBe(true);
    expect(client.loads.some((l) => l.source.kind === 'hub')).toBe(false);
    const again = s().pullHubModel('botnet26t_256');
    // Until the engine reports the resumed offset, the row shows what it had.
    expect(s().hub.pulls.botnet26t_256).toMatchObject({ status: 'downloading', bytes: 1500, total: 6000 });
    client.progress(6000, 6000);
    client.pulls[1]!.finish();
    await again;
    expect(s().model.info?.name).toBe('botnet26t_256');
  });

  it('an offline download says so, with the engine’s hint, in its row; Retry tries again', async () => {
    const { s, client } = await ready();
    s().openCatalogue(true);
    await flush();
    const p = s().pullHubModel('seresnet50');
    client.pulls[0]!.fail(Object.assign(new Error('cannot reach 127.0.0.1:9: the connection was refused; timm/seresnet50.a1_in1k is not downloaded yet'), {
      code: 'network', hint: 'Check the connection or the proxy (HTTPS_PROXY, NO_PROXY), or set ATTNSCOPE_HUB_URL to a mirror.',
    }));
    await p;
    expect(s().hub.pulls.seresnet50).toMatchObject({
      status: 'error',
      error: { code: 'network', message: expect.stringContaining('connection was refused') as unknown as string, hint: expect.stringContaining('ATTNSCOPE_HUB_URL') as unknown as string },
    });
    expect(s().hub.open).toBe(true);
    expect(s().model.info?.name).toBe('tiny-cbam');
    const retry = s().pullHubModel('seresnet50');
    expect(s().hub.pulls.seresnet50).toMatchObject({ status: 'downloading', error: null });
    client.pulls[1]!.finish();
    await retry;
    expect(s().model.source).toEqual({ kind: 'hub', name: 'seresnet50' });
  });

  it('a model that downloads but fails to load shows the load error in its row', async () => {
    const { s, client } = await ready();
    s().openCatalogue(true);
    await flush();
    // Another download keeps the dialog open.
    void s().pullHubModel('botnet26t_256');
    const p = s().pullHubModel('seresnet50');
    client.loadError = Object.assign(new Error('seresnet50: unexpected key layout'), { code: 'bad-checkpoint' });
    client.pulls[1]!.finish();
    await p;
    expect(s().hub.open).toBe(true);
    expect(s().hub.pulls.seresnet50).toMatchObject({ status: 'error', error: { code: 'bad-checkpoint', message: 'seresnet50: unexpected key layout' } });
    expect(s().model.errorLabel).toBe('seresnet50');
  });

  it('only the model asked for last loads when its download ends; an earlier one just lands in the cache', async () => {
    const { s, client } = await ready();
    s().openCatalogue(true);
    await flush();
    const a = s().pullHubModel('seresnet50');
    await s().openHubModel('ecaresnet26t');
    expect(s().model.source).toEqual({ kind: 'hub', name: 'ecaresnet26t' });
    expect(s().hub.open).toBe(false);
    client.pulls[0]!.finish();
    await a;
    expect(s().model.source).toEqual({ kind: 'hub', name: 'ecaresnet26t' });
    expect(s().hub.pulls.seresnet50).toBeUndefined();
    expect(s().hub.models.find((m) => m.name === 'seresnet50')?.cached).toBe(true);
  });

  it('I opens the dialog, Escape closes it, and other keys wait while it is open', async () => {
    const { store, s } = await ready();
    const cmd = makeCommands(store);
    const key = (k: string) => handleKey({ key: k, shiftKey: false, ctrlKey: false, metaKey: false, altKey: false, target: null }, store, cmd);
    expect(key('i')).toBe(true);
    expect(s().hub.open).toBe(true);
    expect(key('g')).toBe(false);
    expect(s().settings.layout).toBe('single');
    expect(key('Escape')).toBe(true);
    expect(s().hub.open).toBe(false);
  });
});

describe('client: cancelling a request', () => {
  it('an aborted signal sends the engine a cancel for that request and rejects it as cancelled', async () => {
    const sent: Array<Record<string, unknown>> = [];
    const t: Transport = { kind: 'websocket', onMessage: () => {}, onClose: () => {}, close() {}, send(msg) { sent.push(msg as Record<string, unknown>); } };
    const client = new Client(t);
    const abort = new AbortController();
    const events: EngineMessage[] = [];
    const p = client.request({ type: 'hubPull', name: 'seresnet50' }, { signal: abort.signal, onEvent: (e) => events.push(e) });
    const id = sent[0]!.id as number;
    t.onMessage({ type: 'hubPullProgress', id, file: 'model.safetensors', bytes: 10, total: 100 });
    abort.abort();
    await expect(p).rejects.toMatchObject({ code: 'cancelled' });
    expect(sent[1]).toMatchObject({ type: 'cancel', target: id });
    expect(events).toHaveLength(1);
    // The engine's own `cancelled` and late events for it are dropped.
    t.onMessage({ type: 'hubPullProgress', id, file: 'model.safetensors', bytes: 20, total: 100 });
    t.onMessage({ type: 'cancelled', id });
    expect(events).toHaveLength(1);
    // A signal aborted already sends nothing.
    await expect(client.request({ type: 'hubPull', name: 'x' }, { signal: abort.signal })).rejects.toMatchObject({ code: 'cancelled' });
    expect(sent).toHaveLength(2);
  });
});

describe('ModelCatalogue and the picker', () => {
  async function mount(storage = memoryStorage()) {
    const client = new HubClient();
    const store = createAppStore({ storage, createObjectUrl: () => null, download: () => {} });
    render(<StoreProvider store={store}><App /></StoreProvider>);
    await act(async () => { await store.getState().attachClient(client); });
    return { store, client, s: () => store.getState() };
  }

  it('lists the models with attention, params, top-1 @ size, license and size; rows show progress and errors; the footnote cites timm', async () => {
    const { client } = await mount();
    fireEvent.click(screen.getByTestId('model-picker'));
    fireEvent.click(screen.getByTestId('open-catalogue'));
    await act(flush);
    const dialog = screen.getByTestId('model-catalogue');
    expect(dialog.contains(document.activeElement)).toBe(true);
    const row = (name: string) => dialog.querySelector(`tr[data-model="${name}"]`) as HTMLElement;
    expect(row('seresnet50').textContent).toContain('SE-ResNet');
    expect(row('seresnet50').textContent).toContain('28.1 M');
    expect(row('seresnet50').textContent).toContain('80.0% @224');
    expect(row('seresnet50').textContent).toContain('apache-2.0');
    expect(row('seresnet50').textContent).toContain('≈107.2 MB');
    expect(within(row('ecaresnet26t')).getByRole('button', { name: 'Open' })).toBeTruthy();
    expect(row('ecaresnet26t').textContent).toContain('cached');
    expect(dialog.textContent).toContain('ImageNet-1k top-1 from timm’s results table');

    fireEvent.click(within(row('seresnet50')).getByRole('button', { name: 'Download seresnet50' }));
    await act(async () => { client.progress(1024 * 1024, 4 * 1024 * 1024); });
    expect(within(row('seresnet50')).getByTestId('hub-progress-text').textContent).toBe('1.0 MB of 4.0 MB · 25%');
    fireEvent.click(within(row('seresnet50')).getByRole('button', { name: /Cancel the download/ }));
    await act(flush);
    expect(row('seresnet50').textContent).toContain('Stopped at 1.0 MB');
    fireEvent.click(within(row('seresnet50')).getByRole('button', { name: 'Resume' }));
    await act(async () => { client.pulls[1]!.fail(Object.assign(new Error('cannot reach 127.0.0.1:9: the connection was refused'), { code: 'network', hint: 'Check the connection or the proxy.' })); await flush(); });
    const err = within(dialog).getByTestId('hub-error');
    expect(err.textContent).toContain('the connection was refused');
    expect(err.textContent).toContain('Check the connection or the proxy.');
    expect(within(row('seresnet50')).getByRole('button', { name: 'Retry' })).toBeTruthy();

    fireEvent.keyDown(window, { key: 'Escape' });
    expect(screen.queryByTestId('model-catalogue')).toBeNull();
  });

  it('a hub model in Recent reloads with one click', async () => {
    const storage = memoryStorage({ 'attnscope.recentModels.v1': JSON.stringify([{ label: 'botnet26t_256', source: { kind: 'hub', name: 'botnet26t_256' } }]) });
    const { client } = await mount(storage);
    fireEvent.click(screen.getByTestId('model-picker'));
    const item = document.querySelector('[data-recent="hub"]') as HTMLElement;
    expect(item.textContent).toContain('botnet26t_256');
    await act(async () => { fireEvent.click(item); await flush(); });
    expect(client.loads.at(-1)!.source).toEqual({ kind: 'hub', name: 'botnet26t_256' });
  });
});
