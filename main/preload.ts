// The preload (sandboxed): window.attnscope and the engine port relay; the logic lives in
// preloadBridge.ts so that tests can run it without Electron.

import { contextBridge, ipcRenderer } from 'electron';
import { createBridge, installRelay, type IpcRendererLike } from './preloadBridge';

const ipc = ipcRenderer as unknown as IpcRendererLike;
contextBridge.exposeInMainWorld('attnscope', createBridge(ipc, process.platform));
installRelay(ipc, window);
