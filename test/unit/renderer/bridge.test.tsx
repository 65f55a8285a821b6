// @vitest-environment jsdom
// The Electron side of the page: menu commands from the preload bridge, the model dialog
// when the host accepts paths, and the theme switch.
import { act, cleanup, fireEvent, render, screen, within } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import type { AttnScopeBridge, MenuCommand } from '../../../engine/protocol';
import { App } from '../../../renderer/App';
import { createAppStore, StoreProvider } from '../../../renderer/store';
import { FakeClient, flush, memoryStorage } from './fakeClient';

/** A fake preload bridge, installed as window.attnscope (afterEach removes it). */
function installBridge() {
  const listeners: Array<(c: MenuCommand) => void> = [];
  const bridge: AttnScopeBridge = {
    platform: 'linux',
    appVersion: async () => '0.1.0',
    openImageDialog: async () => [],
    openModelDialog: async () => ({ path: '/home/u/models/resnet50_cbam.pth', name: 'resnet50_cbam.pth' }),
    chooseExportDir: async () => ({ path: '/home/u/out', name: 'out' }),
    saveDialog: async () => null,
    recentFiles: async () => [],
    openRecent: async () => null,
    // main reads only images chosen in its dialog; here /home/u/cat.jpg is one, others are refused.
    readChosenImage: async (path: string) => {
      if (path !== '/home/u/cat.jpg') throw new Error('Only images you chose can be read.');
      return Uint8Array.from([137, 80, 78, 71, 1, 2, 3]);
    },
    revealInFolder: async () => {},
    onMenuCommand: (l) => { listeners.push(l); return () => {}; },
    requestEnginePort: () => {},
  };
  (window as unknown as { attnscope: AttnScopeBridge }).attnscope = bridge;
  return { send: (c: MenuCommand) => listeners.forEach((l) => l(c)) };
}

afterEach(() => {
  cleanup();
  delete (window as unknown as { attnscope?: unknown }).attnscope;
  delete document.documentElement.dataset.theme;
});

async function mount(client = new FakeClient()) {
  const store = createAppStore({ storage: memoryStorage(), createObjectUrl: () => null, download: () => {} });
  render(<StoreProvider store={store}><App /></StoreProvider>);
  await act(async () => { await store.getState().attachClient(client); });
  return { store, s: () => store.getState() };
}

describe('in Electron (preload bridge)', () => {
  it('follows the application menu: open image paths, open model, colormap, opacity, overlay, export', async () => {
    const { send } = installBridge();
    const client = new FakeClient();
    const { s } = await mount(client);
    await act(async () => { send({ command: 'openImage', files: [{ path: '/home/u/cat.jpg', name: 'cat.jpg' }] }); await flush(); });
    // Read as bytes through the bridge: the page can show the image under the overlay.
    const ran = client.runs.at(-1)!.image;
    expect(ran).toMatchObject({ kind: 'bytes', name: 'cat.jpg' });
    expect(Array.from(new Uint8Array((ran as { bytes: ArrayBuffer }).bytes))).toEqual([137, 80, 78, 71, 1, 2, 3]);
    expect(s().images.list.at(-1)!.source.kind).toBe('bytes');
    act(() => send({ command: 'colormap', name: 'turbo' }));
    expect(s().settings.colormap).toBe('turbo');
    act(() => send({ command: 'opacity', delta: 0.2 }));
    expect(s().settings.opacity).toBe(0.8);
    act(() => send({ command: 'toggleOverlay' }));
    expect(s().modules.hidden).toEqual(['nl3']);
    act(() => send({ command: 'export' }));
    expect(screen.getByTestId('export-dialog')).toBeTruthy();
    // In Electron the export goes to a folder the user chooses.
    const dialog = screen.getByTestId('export-dialog');
    fireEvent.click(within(dialog).getByRole('button', { name: /Choose folder/ }));
    await act(flush);
    await act(async () => { fireEvent.click(within(dialog).getByRole('button', { name: 'Export' })); await flush(); });
    expect(client.requests.find((r) => r.type === 'export')).toMatchObject({ destination: { kind: 'dir', path: '/home/u/out' } });
  });

  it('an image main cannot read still runs by path, and the user is told', async () => {
    const { send } = installBridge();
    const client = new FakeClient();
    const { s } = await mount(client);
    await act(async () => { send({ command: 'openImage', files: [{ path: '/home/u/gone.jpg', name: 'gone.jpg' }] }); await flush(); });
    expect(client.runs.at(-1)!.image).toEqual({ kind: 'path', path: '/home/u/gone.jpg' });
    expect(s().ui.toast?.text).toMatch(/Could not read gone.jpg/);
  });

  it('opens a checkpoint through the dialog as a path when the host accepts paths, and lists it as recent', async () => {
    installBridge();
    const client = new FakeClient();
    const hello = client.hello.bind(client);
    client.hello = async () => {
      const h = await hello();
      return { ...h, capabilities: { ...h.capabilities, sources: ['builtin', 'bytes', 'path'] } };
    };
    let loaded: unknown = null;
    const load = client.loadModel.bind(client);
    client.loadModel = async (src, p) => { loaded = src; return load(src, p); };
    const { s } = await mount(client);
    await act(async () => { fireEvent.keyDown(window, { key: 'm' }); await flush(); await flush(); });
    expect(loaded).toEqual({ kind: 'path', path: '/home/u/models/resnet50_cbam.pth' });
    expect(s().model.recent[0]).toEqual({ label: 'resnet50_cbam.pth', source: { kind: 'path', path: '/home/u/models/resnet50_cbam.pth' } });
  });
});

describe('theme', () => {
  it('cycles system -> dark -> light -> system and persists the choice', async () => {
    const { s } = await mount();
    const button = () => screen.getByRole('button', { name: /^Theme:/ });
    fireEvent.click(button());
    expect(document.documentElement.dataset.theme).toBe('dark');
    fireEvent.click(button());
    expect(document.documentElement.dataset.theme).toBe('light');
    fireEvent.click(button());
    expect(document.documentElement.dataset.theme).toBeUndefined();
    expect(s().settings.theme).toBe('system');
  });
});
