import { describe, expect, it } from 'vitest';
import type { BrowserWindowConstructorOptions } from 'electron';
import { COLORMAP_NAMES } from '../../../engine/colormaps';
import { CONTENT_SECURITY_POLICY as MAIN_CSP } from '../../../common/csp';
import { COLORMAPS } from '../../../main/menu';
import { createMainWindow, type SessionLike, type WindowLike } from '../../../main/window';
import { FakeWebContents } from './fakes';

type HeaderListener = Parameters<SessionLike['webRequest']['onHeadersReceived']>[0];
type PermissionHandler = (wc: unknown, p: string, cb: (g: boolean) => void) => void;

interface FakeSession extends SessionLike {
  headerListener: HeaderListener | null;
  permission: PermissionHandler | null;
  check: ((wc: unknown, p: string) => boolean) | null;
}

function fakeSession(): FakeSession {
  const s: FakeSession = {
    headerListener: null,
    permission: null,
    check: null,
    webRequest: { onHeadersReceived(l: HeaderListener) { s.headerListener = l; } },
    setPermissionRequestHandler(h) { s.permission = h; },
    setPermissionCheckHandler(h) { s.check = h; },
  };
  return s;
}

describe('main window', () => {
  const paths = { preload: '/app/dist/main/preload.cjs' };

  function open() {
    const session = fakeSession();
    const contents = new FakeWebContents();
    let options: BrowserWindowConstructorOptions | null = null;
    let loaded = '';
    const win = createMainWindow({
      session,
      createWindow: (o) => {
        options = o;
        const w: WindowLike = { webContents: contents, loadURL: async (u: string) => { loaded = u; }, on: () => w };
        return w;
      },
    }, paths);
    return { win, session, contents, options: options as unknown as BrowserWindowConstructorOptions, loaded: () => loaded };
  }

  it('is isolated, sandboxed, without Node, with web security and the preload', () => {
    const { options, loaded } = open();
    expect(options.webPreferences).toMatchObject({
      contextIsolation: true, sandbox: true, nodeIntegration: false, nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false, webSecurity: true, allowRunningInsecureContent: false, webviewTag: false,
      preload: paths.preload,
    });
    expect(loaded()).toBe('app://attnscope/index.html');
  });

  it('puts the strict CSP on every response and denies every permission', () => {
    const { session } = open();
    let headers: Record<string, string[] | string> | undefined;
    session.headerListener!({ responseHeaders: { 'Content-Type': ['text/html'] } }, (r: { responseHeaders?: Record<string, string[] | string> }) => { headers = r.responseHeaders; });
    expect(headers).toMatchObject({ 'Content-Type': ['text/html'], 'Content-Security-Policy': [MAIN_CSP] });
    expect(MAIN_CSP).toContain("script-src 'self'");
    expect(MAIN_CSP).not.toContain('unsafe-inline');
    expect(MAIN_CSP).not.toContain('unsafe-eval');
    let granted: boolean | undefined;
    session.permission!(null, 'media', (g: boolean) => { granted = g; });
    expect(granted).toBe(false);
    expect(session.check!(null, 'notifications')).toBe(false);
  });

  it('blocks navigation away from the app, new windows and webviews', () => {
    const { contents } = open();
    expect(contents.navigate('will-navigate', 'https://evil.example/')).toBe(true);
    expect(contents.navigate('will-navigate', 'file:///etc/passwd')).toBe(true);
    expect(contents.navigate('will-navigate', 'app://other/index.html')).toBe(true);
    expect(contents.navigate('will-redirect', 'https://evil.example/')).toBe(true);
    expect(contents.navigate('will-navigate', 'app://attnscope/index.html')).toBe(false);
    expect(contents.openHandler!({ url: 'https://example.com' })).toEqual({ action: 'deny' });
    let prevented = false;
    contents.emit('will-attach-webview', { preventDefault: () => { prevented = true; } });
    expect(prevented).toBe(true);
  });

  it('offers the engine\'s colormap names in the View menu', () => {
    expect([...COLORMAPS]).toEqual([...COLORMAP_NAMES]);
  });
});
