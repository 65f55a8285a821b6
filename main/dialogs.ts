// File dialogs. Every path the page gets comes from here (or from the recent list, which
// only ever holds paths chosen here), and each is granted to the engine as it is chosen.

import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import type { OpenDialogOptions, SaveDialogOptions } from 'electron';
import type { ChosenFile } from '../engine/bridge';
import type { EngineHost } from './engineHost';
import type { RecentFiles } from './recent';
import { exactArrayBuffer } from '../common/bytes';

export interface DialogApi {
  showOpenDialog(options: OpenDialogOptions): Promise<{ canceled: boolean; filePaths: string[] }>;
  showSaveDialog(options: SaveDialogOptions): Promise<{ canceled: boolean; filePath?: string }>;
}

export const IMAGE_EXTENSIONS = ['jpg', 'jpeg', 'png', 'webp', 'gif', 'bmp', 'tif', 'tiff', 'avif'];
export const MODEL_EXTENSIONS = ['pth', 'pt', 'tar', 'safetensors', 'bin', 'onnx'];

const chosen = (path: string): ChosenFile => ({ path, name: basename(path) });

/** Larger files are refused by readImage (the engine's decoder refuses them too). */
const MAX_IMAGE_BYTES = 512 * 1024 * 1024;

export class Dialogs {
  /** Resolved paths of the images the user chose (dialog, menu, recent list): the only ones readImage reads. */
  private readonly images = new Set<string>();

  constructor(
    private readonly dialog: DialogApi,
    private readonly engine: Pick<EngineHost, 'allow' | 'isChosen'>,
    private readonly recent: RecentFiles,
  ) {}

  async openImages(): Promise<ChosenFile[]> {
    const r = await this.dialog.showOpenDialog({
      title: 'Open images',
      properties: ['openFile', 'multiSelections'],
      filters: [{ name: 'Images', extensions: IMAGE_EXTENSIONS }, { name: 'All files', extensions: ['*'] }],
    });
    if (r.canceled || r.filePaths.length === 0) return [];
    await this.engine.allow({ read: r.filePaths });
    r.filePaths.forEach((p) => { this.recent.add('image', p); this.images.add(resolve(p)); });
    return r.filePaths.map(chosen);
  }

  async openModel(): Promise<ChosenFile | null> {
    const r = await this.dialog.showOpenDialog({
      title: 'Open a checkpoint',
      properties: ['openFile'],
      filters: [{ name: 'Models (PyTorch, safetensors, ONNX)', extensions: MODEL_EXTENSIONS }, { name: 'All files', extensions: ['*'] }],
    });
    const path = r.canceled ? undefined : r.filePaths[0];
    if (!path) return null;
    await this.engine.allow({ read: [path] });
    this.recent.add('model', path);
    return chosen(path);
  }

  async chooseExportDir(): Promise<ChosenFile | null> {
    const r = await this.dialog.showOpenDialog({ title: 'Export heatmaps to', properties: ['openDirectory', 'createDirectory'] });
    const path = r.canceled ? undefined : r.filePaths[0];
    if (!path) return null;
    await this.engine.allow({ writeDir: [path] });
    return chosen(path);
  }

  async saveFile(defaultName: string): Promise<ChosenFile | null> {
    const r = await this.dialog.showSaveDialog({ title: 'Save', defaultPath: basename(defaultName) });
    if (r.canceled || !r.filePath) return null;
    await this.engine.allow({ writeFile: [r.filePath] });
    return chosen(r.filePath);
  }

  /** A recent file, if it is on the list and still there. */
  async openRecent(path: string): Promise<ChosenFile | null> {
    const item = this.recent.find(path);
    if (!item) return null;
    if (!existsSync(path)) { this.recent.remove(path); return null; }
    await this.engine.allow({ read: [path] });
    this.recent.add(item.kind, path);
    if (item.kind === 'image') this.images.add(resolve(path));
    return chosen(path);
  }

  /** True for an image the user chose in this session (dialog, menu, recent list). */
  isChosenImage(path: string): boolean {
    return this.images.has(resolve(path));
  }

  /**
   * The bytes of a chosen image (check isChosenImage first), so that the page can show
   * what it opened from the menu. A plain Uint8Array: it crosses IPC and the context bridge.
   */
  async readImage(path: string): Promise<Uint8Array> {
    if (!this.isChosenImage(path)) throw new Error(`${basename(path)} was not chosen in a dialog.`);
    const info = await stat(path);
    if (!info.isFile()) throw new Error(`${basename(path)} is not a file.`);
    if (info.size > MAX_IMAGE_BYTES) throw new Error(`${basename(path)} is ${(info.size / 2 ** 20).toFixed(0)} MB; images up to ${MAX_IMAGE_BYTES / 2 ** 20} MB can be opened.`);
    const buf = await readFile(path);
    return new Uint8Array(exactArrayBuffer(buf));
  }

  /** Only something the user chose may be shown in the file manager. */
  canReveal(path: string): boolean {
    return this.engine.isChosen(path);
  }
}
