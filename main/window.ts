// The one application window, locked down (DESIGN.md "Security"; Electron's security
// checklist): isolated, sandboxed preload, no Node in the page, web security on, a strict
// CSP on every response, no navigation away from the app, no new windows, no permissions.

import type { BrowserWindowConstructorOptions } from 'electron';
import { APP_URL, isAppUrl } from './appProtocol';
import { CONTENT_SECURITY_POLICY } from '../common/csp';

export interface WebContentsLike {
  on(event: 'will-navigate' | 'will-redirect', listener: (e: { preventDefault(): void; url: string }, url: string) => void): unknown;
  on(event: 'will-attach-webview', listener: (e: { preventDefault(): void }) => void): unknown;
  setWindowOpenHandler(handler: (details: { url: string }) => { action: 'deny' } | { action: 'allow' }): void;
  getURL(): string;
}

export interface SessionLike {
  webRequest: {
    onHeadersReceived(listener: (
      details: { responseHeaders?: Record<string, string[] | string> },
      callback: (response: { responseHeaders?: Record<string, string[] | string> }) => void,
    ) => void): void;
  };
  setPermissionRequestHandler(handler: ((wc: unknown, permission: string, callback: (granted: boolean) => void) => void) | null): void;
  setPermissionCheckHandler?(handler: ((wc: unknown, permission: string) => boolean) | null): void;
}

export interface WindowLike {
  webContents: WebContentsLike;
  loadURL(url: string): Promise<void>;
  on(event: 'closed', listener: () => void): unknown;
}

export interface WindowDeps {
  createWindow(options: BrowserWindowConstructorOptions): WindowLike;
  session: SessionLike;
}

export function windowOptions(preloadPath: string): BrowserWindowConstructorOptions {
  return {
    width: 1400,
    height: 900,
    minWidth: 800,
    minHeight: 560,
    title: 'AttnScope',
    show: true,
    backgroundColor: '#16181d',
    webPreferences: {
      preload: preloadPath,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      experimentalFeatures: false,
      spellcheck: false,
      navigateOnDragDrop: false,
    },
  };
}

/** Adds the CSP (and friends) to every response the page's session gets. */
export function applySessionPolicy(session: SessionLike): void {
  session.webRequest.onHeadersReceived((details, callback) => {
    callback({
      responseHeaders: {
        ...details.responseHeaders,
        'Content-Security-Policy': [CONTENT_SECURITY_POLICY],
        'X-Content-Type-Options': ['nosniff'],
      },
    });
  });
  // No camera, microphone, notifications, geolocation...: the app needs none.
  session.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
  session.setPermissionCheckHandler?.(() => false);
}

/** Navigation away from the app's own pages and every new window are refused. */
export function lockNavigation(contents: WebContentsLike): void {
  const block = (e: { preventDefault(): void }, url: string) => { if (!isAppUrl(url)) e.preventDefault(); };
  contents.on('will-navigate', block);
  contents.on('will-redirect', block);
  contents.on('will-attach-webview', (e) => e.preventDefault());
  contents.setWindowOpenHandler(() => ({ action: 'deny' }));
}

/** The page comes from app://attnscope/ (main/appProtocol.ts), never file://. */
export function createMainWindow(deps: WindowDeps, paths: { preload: string }): WindowLike {
  applySessionPolicy(deps.session);
  const win = deps.createWindow(windowOptions(paths.preload));
  lockNavigation(win.webContents);
  void win.loadURL(APP_URL);
  return win;
}
