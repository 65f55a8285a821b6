// Electron main: one window, its menu, its dialogs, and the engine utility process
// (DESIGN.md "Processes"). The wiring only; the logic is in the modules beside it.

import { app, BrowserWindow, dialog, ipcMain, Menu, MessageChannelMain, protocol, session, shell, utilityProcess } from 'electron';
import { join } from 'node:path';
import { APP_SCHEME, APP_SCHEME_PRIVILEGES, appProtocolHandler } from './appProtocol';
import { CH } from './channels';
import { Dialogs } from './dialogs';
import { EngineHost } from './engineHost';
import { registerIpc } from './ipc';
import { buildMenuTemplate, COLORMAPS } from './menu';
import { RecentFiles } from './recent';
import { createMainWindow } from './window';

// dist/main/index.cjs -> dist/
const dist = join(__dirname, '..');
const paths = {
  preload: join(dist, 'main', 'preload.cjs'),
  renderer: join(dist, 'renderer'),
  engine: join(dist, 'engine', 'host', 'electron.js'),
};

app.enableSandbox();
protocol.registerSchemesAsPrivileged([{ scheme: APP_SCHEME, privileges: APP_SCHEME_PRIVILEGES }]);
if (!app.requestSingleInstanceLock()) app.quit();

app.whenReady().then(() => {
  protocol.handle(APP_SCHEME, appProtocolHandler(paths.renderer));
  const recent = new RecentFiles(join(app.getPath('userData'), 'recent.json'));
  const engine = new EngineHost({
    fork: (modulePath, args, options) => utilityProcess.fork(modulePath, args, options),
    createChannel: () => new MessageChannelMain(),
  }, { enginePath: paths.engine });
  const win = createMainWindow({ createWindow: (o) => new BrowserWindow(o), session: session.defaultSession }, paths) as BrowserWindow;
  const dialogs = new Dialogs({
    showOpenDialog: (o) => dialog.showOpenDialog(win, o),
    showSaveDialog: (o) => dialog.showSaveDialog(win, o),
  }, engine, recent);

  const refreshMenu = () => Menu.setApplicationMenu(Menu.buildFromTemplate(buildMenuTemplate({
    isMac: process.platform === 'darwin',
    appName: app.getName(),
    version: app.getVersion(),
    colormaps: COLORMAPS,
    dev: !app.isPackaged,
    recent: () => recent.list(),
    openImages: async () => { const f = await dialogs.openImages(); refreshMenu(); return f; },
    openModel: async () => { const f = await dialogs.openModel(); refreshMenu(); return f; },
    openRecent: (p) => dialogs.openRecent(p),
    clearRecent: () => { recent.clear(); refreshMenu(); },
    send: (command) => { if (!win.isDestroyed()) win.webContents.send(CH.menuCommand, command); },
  })));
  refreshMenu();

  registerIpc(
    {
      handle: (channel, listener) => ipcMain.handle(channel, listener),
      on: (channel, listener) => { ipcMain.on(channel, listener); },
    },
    {
      sender: () => win.webContents,
      version: app.getVersion(),
      dialogs,
      recent: () => recent.list(),
      reveal: (p) => shell.showItemInFolder(p),
      requestEnginePort: () => engine.connect({
        postMessage: (channel, message, transfer) => win.webContents.postMessage(channel, message, transfer),
        send: (channel, message) => win.webContents.send(channel, message),
        isDestroyed: () => win.isDestroyed(),
      }),
    },
  );

  win.on('closed', () => engine.stop());
  app.on('before-quit', () => engine.stop());
}).catch((err: unknown) => {
  console.error(err);
  app.quit();
});

app.on('window-all-closed', () => app.quit());
