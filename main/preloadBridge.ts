// The preload's logic, without `electron` (tests drive it with fakes): the narrow
// AttnScopeBridge for window.attnscope, and the relay of the engine's MessagePort to the
// page with window.postMessage (contextBridge cannot carry ports; ente's pattern).

import type { AttnScopeBridge, MenuCommand, PortRelayMessage, StatusRelayMessage } from '../engine/bridge';
import { CH } from './channels';

export interface IpcRendererLike {
  invoke(channel: string, ...args: unknown[]): Promise<unknown>;
  send(channel: string, ...args: unknown[]): void;
  on(channel: string, listener: (e: { ports: readonly unknown[] }, ...args: unknown[]) => void): unknown;
  removeListener(channel: string, listener: (...args: never[]) => void): unknown;
}

export function createBridge(ipc: IpcRendererLike, platform: string): AttnScopeBridge {
  const call = <T>(channel: string, ...args: unknown[]) => ipc.invoke(channel, ...args) as Promise<T>;
  return {
    platform,
    appVersion: () => call(CH.appVersion),
    openImageDialog: () => call(CH.openImageDialog),
    openModelDialog: () => call(CH.openModelDialog),
    chooseExportDir: () => call(CH.chooseExportDir),
    saveDialog: (defaultName: string) => call(CH.saveDialog, String(defaultName)),
    recentFiles: () => call(CH.recentFiles),
    openRecent: (path: string) => call(CH.openRecent, String(path)),
    readChosenImage: (path: string) => call(CH.readChosenImage, String(path)),
    revealInFolder: (path: string) => call(CH.reveal, String(path)),
    onMenuCommand(listener: (c: MenuCommand) => void) {
      // The page gets the command only, never the IPC event (it holds `sender`).
      const wrapped = (_e: unknown, command: unknown) => listener(command as MenuCommand);
      ipc.on(CH.menuCommand, wrapped);
      return () => { ipc.removeListener(CH.menuCommand, wrapped); };
    },
    requestEnginePort: () => ipc.send(CH.enginePortRequest),
  };
}

export interface WindowLike { postMessage(message: unknown, targetOrigin: string, transfer?: unknown[]): void }

/** Forwards engine ports and restart notices from main to the page. */
export function installRelay(ipc: IpcRendererLike, win: WindowLike): void {
  ipc.on(CH.enginePort, (e, data) => {
    const generation = (data as { generation?: unknown } | undefined)?.generation;
    if (typeof generation !== 'number' || e.ports.length !== 1) return;
    const message: PortRelayMessage = { type: 'attnscope:engine-port', generation };
    // Posted to this window only; the page checks event.source === window.
    win.postMessage(message, '*', [...e.ports]);
  });
  ipc.on(CH.engineStatus, (_e, data) => {
    const d = data as { state?: unknown; message?: unknown } | undefined;
    if (d?.state !== 'restarting' && d?.state !== 'failed') return;
    const message: StatusRelayMessage = { type: 'attnscope:engine-status', state: d.state, message: String(d.message ?? '') };
    win.postMessage(message, '*');
  });
}
