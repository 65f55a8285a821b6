// main's side of the preload bridge (engine/bridge.ts AttnScopeBridge). Every handler
// checks that the call comes from our window's own page, and validates its arguments.

import type { ChosenFile, RecentFile } from '../engine/bridge';
import { isAppUrl } from './appProtocol';
import { CH } from './channels';
import type { Dialogs } from './dialogs';

export interface IpcEvent { sender: unknown; senderFrame?: { url: string } | null }

export interface IpcMainLike {
  handle(channel: string, listener: (e: IpcEvent, ...args: unknown[]) => unknown): void;
  on(channel: string, listener: (e: IpcEvent, ...args: unknown[]) => void): void;
}

export interface IpcContext {
  /** The page's webContents: calls from anything else are refused. */
  sender(): unknown;
  version: string;
  dialogs: Dialogs;
  recent(): RecentFile[];
  reveal(path: string): void;
  requestEnginePort(): void;
}

export class ForbiddenCall extends Error {}

export function registerIpc(ipc: IpcMainLike, ctx: IpcContext): void {
  const trusted = (e: IpcEvent): void => {
    if (e.sender !== ctx.sender() || !e.senderFrame || !isAppUrl(e.senderFrame.url)) {
      throw new ForbiddenCall('IPC from an unexpected page');
    }
  };
  const str = (v: unknown, what: string): string => {
    if (typeof v !== 'string' || v.length === 0 || v.length > 32_768 || v.includes('\0')) throw new ForbiddenCall(`${what} must be a string`);
    return v;
  };
  const on = <T>(channel: string, fn: (...args: unknown[]) => T) => ipc.handle(channel, (e, ...args) => { trusted(e); return fn(...args); });

  on(CH.appVersion, () => ctx.version);
  on(CH.openImageDialog, (): Promise<ChosenFile[]> => ctx.dialogs.openImages());
  on(CH.openModelDialog, () => ctx.dialogs.openModel());
  on(CH.chooseExportDir, () => ctx.dialogs.chooseExportDir());
  on(CH.saveDialog, (name) => ctx.dialogs.saveFile(str(name, 'defaultName')));
  on(CH.recentFiles, () => ctx.recent());
  on(CH.openRecent, (path) => ctx.dialogs.openRecent(str(path, 'path')));
  on(CH.readChosenImage, (path) => {
    const p = str(path, 'path');
    if (!ctx.dialogs.isChosenImage(p)) throw new ForbiddenCall('Only images you chose can be read.');
    return ctx.dialogs.readImage(p);
  });
  on(CH.reveal, (path) => {
    const p = str(path, 'path');
    if (!ctx.dialogs.canReveal(p)) throw new ForbiddenCall('Only files and folders you chose can be shown.');
    ctx.reveal(p);
  });
  ipc.on(CH.enginePortRequest, (e) => {
    try { trusted(e); } catch { return; }
    ctx.requestEnginePort();
  });
}
