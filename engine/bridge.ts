// The narrow API that Electron's preload exposes on `window.attnscope` (DESIGN.md
// "Processes"; VS Code / ente style: a handful of functions, no ipcRenderer). Types only;
// re-exported by protocol.ts because the renderer may import types only from there.
//
// Paths: every path here is one the user chose in a dialog (or picked from the recent
// list, which holds only such paths). Main also tells the engine which paths it may
// read and which folders it may write, so a compromised page cannot make the engine
// read anything else.
//
// The engine's MessagePort does not go through contextBridge (it cannot carry ports):
// the preload relays it with window.postMessage(PortRelayMessage, '*', [port]); the page
// accepts it only when event.source === window. A new port arrives after every engine
// restart; a StatusRelayMessage says that a restart is under way.

export interface ChosenFile {
  path: string;
  /** Base name, for display. */
  name: string;
}

export interface RecentFile extends ChosenFile {
  kind: 'image' | 'model';
  /** ms since the Unix epoch. */
  openedAt: number;
}

/** What the application menu asks the page to do. Menu items that need a file open the dialog in main first. */
export type MenuCommand =
  | { command: 'openImage'; files: ChosenFile[] }
  | { command: 'openModel'; file: ChosenFile }
  | { command: 'export' }
  /** The ImageNet models catalogue (timm, from the hub). */
  | { command: 'catalogue' }
  | { command: 'colormap'; name: string }
  | { command: 'opacity'; delta: number }
  | { command: 'toggleOverlay' }
  | { command: 'about'; version: string };

export interface AttnScopeBridge {
  /** process.platform of the app ('darwin', 'win32', 'linux'). */
  readonly platform: string;
  appVersion(): Promise<string>;
  /** Opens the image dialog (multi-select); [] when cancelled. */
  openImageDialog(): Promise<ChosenFile[]>;
  /** Opens the checkpoint dialog (.pth, .pth.tar, .pt, .safetensors); null when cancelled. */
  openModelDialog(): Promise<ChosenFile | null>;
  /** Asks for a folder to export into; the engine may write only there. null when cancelled. */
  chooseExportDir(): Promise<ChosenFile | null>;
  /** Save dialog for one file; the engine may write only that file. null when cancelled. */
  saveDialog(defaultName: string): Promise<ChosenFile | null>;
  /** Recently opened images and models, newest first. */
  recentFiles(): Promise<RecentFile[]>;
  /**
   * The bytes of an image the user chose in the image dialog, the Open Image menu or the
   * recent list (any other path is refused), so that the page can show it under the
   * overlay and send the engine the same bytes it shows.
   */
  readChosenImage(path: string): Promise<Uint8Array>;
  /** Re-opens a recent file: checks it is still on the list and exists; null when not. */
  openRecent(path: string): Promise<ChosenFile | null>;
  /** Shows a chosen file or export folder in the system file manager. */
  revealInFolder(path: string): Promise<void>;
  /** Menu commands; returns an unsubscribe function. */
  onMenuCommand(listener: (command: MenuCommand) => void): () => void;
  /** Asks main to send the engine port (again); it arrives as a PortRelayMessage. */
  requestEnginePort(): void;
}

/** Posted by the preload to the page with the engine's MessagePort in `ports[0]`. */
export interface PortRelayMessage {
  type: 'attnscope:engine-port';
  /** 0 for the first engine, +1 after each restart. */
  generation: number;
}

/** Posted by the preload while the engine restarts (no port). */
export interface StatusRelayMessage {
  type: 'attnscope:engine-status';
  state: 'restarting' | 'failed';
  message: string;
}
