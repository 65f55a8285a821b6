// The application menu. Items that need a file open the dialog here in main and send the
// page a small command with what the user chose (engine/bridge.ts MenuCommand).

import type { MenuItemConstructorOptions } from 'electron';
import type { ChosenFile, MenuCommand, RecentFile } from '../engine/bridge';

export interface MenuContext {
  isMac: boolean;
  appName: string;
  version: string;
  colormaps: readonly string[];
  recent(): RecentFile[];
  openImages(): Promise<ChosenFile[]>;
  openModel(): Promise<ChosenFile | null>;
  openRecent(path: string): Promise<ChosenFile | null>;
  clearRecent(): void;
  send(command: MenuCommand): void;
  /** Dev tools only in development builds. */
  dev: boolean;
}

/** The engine's colormaps (engine/colormaps.ts COLORMAP_NAMES; main may not import engine values, test/unit/main checks they agree). */
export const COLORMAPS = ['viridis', 'turbo', 'inferno', 'magma', 'jet', 'gray'] as const;

/** Opacity step of the View menu shortcuts. */
export const OPACITY_STEP = 0.1;

export function buildMenuTemplate(ctx: MenuContext): MenuItemConstructorOptions[] {
  const recent = ctx.recent();
  const file: MenuItemConstructorOptions = {
    label: '&File',
    submenu: [
      {
        id: 'open-image', label: 'Open Image…', accelerator: 'CmdOrCtrl+O',
        click: () => { void ctx.openImages().then((files) => { if (files.length) ctx.send({ command: 'openImage', files }); }); },
      },
      {
        id: 'open-model', label: 'Open Model…', accelerator: 'CmdOrCtrl+Shift+O',
        click: () => { void ctx.openModel().then((f) => { if (f) ctx.send({ command: 'openModel', file: f }); }); },
      },
      { id: 'catalogue', label: 'ImageNet Models…', accelerator: 'CmdOrCtrl+Shift+M', click: () => ctx.send({ command: 'catalogue' }) },
      {
        id: 'recent', label: 'Open Recent',
        submenu: [
          ...recent.map((r): MenuItemConstructorOptions => ({
            label: `${r.kind === 'model' ? 'Model' : 'Image'}: ${r.name}`,
            toolTip: r.path,
            click: () => {
              void ctx.openRecent(r.path).then((f) => {
                if (f) ctx.send(r.kind === 'model' ? { command: 'openModel', file: f } : { command: 'openImage', files: [f] });
              });
            },
          })),
          ...(recent.length ? [{ type: 'separator' } as MenuItemConstructorOptions] : []),
          { id: 'clear-recent', label: 'Clear Recent', enabled: recent.length > 0, click: () => ctx.clearRecent() },
        ],
      },
      { type: 'separator' },
      { id: 'export', label: 'Export Heatmaps…', accelerator: 'CmdOrCtrl+E', click: () => ctx.send({ command: 'export' }) },
      { type: 'separator' },
      ctx.isMac ? { role: 'close' } : { role: 'quit' },
    ],
  };
  const view: MenuItemConstructorOptions = {
    label: '&View',
    submenu: [
      {
        id: 'colormap', label: 'Colormap',
        submenu: ctx.colormaps.map((name, i): MenuItemConstructorOptions => ({
          label: name, type: 'radio', checked: i === 0,
          ...(i < 9 ? { accelerator: `Alt+${i + 1}` } : {}),
          click: () => ctx.send({ command: 'colormap', name }),
        })),
      },
      { id: 'opacity-up', label: 'Increase Opacity', accelerator: 'CmdOrCtrl+]', click: () => ctx.send({ command: 'opacity', delta: OPACITY_STEP }) },
      { id: 'opacity-down', label: 'Decrease Opacity', accelerator: 'CmdOrCtrl+[', click: () => ctx.send({ command: 'opacity', delta: -OPACITY_STEP }) },
      { id: 'toggle-overlay', label: 'Show / Hide Heatmap', accelerator: 'CmdOrCtrl+H', click: () => ctx.send({ command: 'toggleOverlay' }) },
      { type: 'separator' },
      { role: 'resetZoom' }, { role: 'zoomIn' }, { role: 'zoomOut' },
      { type: 'separator' },
      { role: 'togglefullscreen' },
      ...(ctx.dev ? [{ type: 'separator' } as MenuItemConstructorOptions, { role: 'reload' } as MenuItemConstructorOptions, { role: 'toggleDevTools' } as MenuItemConstructorOptions] : []),
    ],
  };
  const help: MenuItemConstructorOptions = {
    label: '&Help',
    role: 'help',
    submenu: [
      { id: 'about', label: `About ${ctx.appName}`, click: () => ctx.send({ command: 'about', version: ctx.version }) },
    ],
  };
  const edit: MenuItemConstructorOptions = { role: 'editMenu' };
  return [...(ctx.isMac ? [{ role: 'appMenu' } as MenuItemConstructorOptions] : []), file, edit, view, help];
}
