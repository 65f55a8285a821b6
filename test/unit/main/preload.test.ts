import { describe, expect, it } from 'vitest';
import { CH } from '../../../main/channels';
import { createBridge, installRelay, type IpcRendererLike } from '../../../main/preloadBridge';

function fakeIpc() {
  const invoked: Array<[string, unknown[]]> = [];
  const sent: string[] = [];
  const listeners = new Map<string, Array<(e: { ports: readonly unknown[] }, ...a: unknown[]) => void>>();
  const ipc: IpcRendererLike = {
    invoke: async (channel, ...args) => { invoked.push([channel, args]); return channel; },
    send: (channel) => { sent.push(channel); },
    on: (channel, l) => { listeners.set(channel, [...(listeners.get(channel) ?? []), l]); },
    removeListener: (channel, l) => { listeners.set(channel, (listeners.get(channel) ?? []).filter((x) => x !== (l as unknown))); },
  };
  const emit = (channel: string, ports: unknown[], ...args: unknown[]) => listeners.get(channel)?.forEach((l) => l({ ports }, ...args));
  return { ipc, invoked, sent, emit, listeners };
}

describe('preload bridge', () => {
  it('exposes only the narrow API, each function one IPC call', async () => {
    const { ipc, invoked, sent } = fakeIpc();
    const bridge = createBridge(ipc, 'linux');
    expect(Object.keys(bridge).sort()).toEqual([
      'appVersion', 'chooseExportDir', 'onMenuCommand', 'openImageDialog', 'openModelDialog', 'openRecent', 'platform',
      'readChosenImage', 'recentFiles', 'requestEnginePort', 'revealInFolder', 'saveDialog',
    ]);
    await bridge.appVersion();
    await bridge.openImageDialog();
    await bridge.saveDialog('cat.png');
    await bridge.openRecent('/x/y.pth');
    await bridge.revealInFolder('/x');
    await bridge.readChosenImage('/x/cat.jpg');
    bridge.requestEnginePort();
    expect(invoked).toEqual([[CH.appVersion, []], [CH.openImageDialog, []], [CH.saveDialog, ['cat.png']], [CH.openRecent, ['/x/y.pth']], [CH.reveal, ['/x']], [CH.readChosenImage, ['/x/cat.jpg']]]);
    expect(sent).toEqual([CH.enginePortRequest]);
  });

  it('passes menu commands without the IPC event, and unsubscribes', () => {
    const { ipc, emit } = fakeIpc();
    const bridge = createBridge(ipc, 'linux');
    const got: unknown[] = [];
    const off = bridge.onMenuCommand((c) => got.push(c));
    emit(CH.menuCommand, [], { command: 'export' });
    off();
    emit(CH.menuCommand, [], { command: 'export' });
    expect(got).toEqual([{ command: 'export' }]);
  });

  it('relays the engine port to the page with window.postMessage, and restart notices', () => {
    const { ipc, emit } = fakeIpc();
    const posted: Array<[unknown, string, unknown[] | undefined]> = [];
    installRelay(ipc, { postMessage: (m, o, t) => posted.push([m, o, t]) });
    const port = { port: 1 };
    emit(CH.enginePort, [port], { generation: 0 });
    emit(CH.enginePort, [], { generation: 1 });
    emit(CH.enginePort, [port], { generation: 'x' });
    emit(CH.engineStatus, [], { state: 'restarting', message: 'engine stopped' });
    emit(CH.engineStatus, [], { state: 'boom' });
    expect(posted).toEqual([
      [{ type: 'attnscope:engine-port', generation: 0 }, '*', [port]],
      [{ type: 'attnscope:engine-status', state: 'restarting', message: 'engine stopped' }, '*', undefined],
    ]);
  });
});
