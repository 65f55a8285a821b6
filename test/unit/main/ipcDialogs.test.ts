import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CH } from '../../../main/channels';
import { Dialogs, type DialogApi } from '../../../main/dialogs';
import { EngineHost } from '../../../main/engineHost';
import { type IpcEvent, type IpcMainLike, registerIpc } from '../../../main/ipc';
import { MAX_RECENT, RecentFiles } from '../../../main/recent';

function setup(answers: { open?: string[]; save?: string } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'attnscope-main-'));
  const image = join(dir, 'cat.jpg');
  writeFileSync(image, 'x');
  const dialog: DialogApi = {
    showOpenDialog: async () => ({ canceled: !answers.open, filePaths: answers.open ?? [] }),
    showSaveDialog: async () => (answers.save ? { canceled: false, filePath: answers.save } : { canceled: true }),
  };
  const engine = new EngineHost({ fork: () => { throw new Error('not started'); }, createChannel: () => { throw new Error('no'); } }, { enginePath: 'x' });
  const recent = new RecentFiles(join(dir, 'user', 'recent.json'));
  return { dir, image, engine, recent, dialogs: new Dialogs(dialog, engine, recent) };
}

describe('dialogs and recent files', () => {
  it('grants the engine exactly what the user chose and remembers it', async () => {
    const { image, engine, recent, dialogs, dir } = setup({ open: [] });
    expect(await dialogs.openImages()).toEqual([]);
    const s = setup({ open: [image] });
    expect(await s.dialogs.openImages()).toEqual([{ path: image, name: 'cat.jpg' }]);
    expect(s.engine.isChosen(image)).toBe(true);
    expect(s.engine.isChosen(join(dir, 'other.jpg'))).toBe(false);
    expect(s.recent.list().map((r) => [r.kind, r.path])).toEqual([['image', image]]);
    // Persisted: a new RecentFiles reads it back.
    expect(new RecentFiles(join(s.dir, 'user', 'recent.json')).list()).toHaveLength(1);
    void engine; void recent;
  });

  it('re-opens only listed recent files that still exist', async () => {
    const s = setup({ open: [join(mkdtempSync(join(tmpdir(), 'x-')), 'gone.jpg')] });
    await s.dialogs.openImages();
    expect(await s.dialogs.openRecent('/etc/passwd')).toBeNull();
    expect(await s.dialogs.openRecent(s.recent.list()[0]!.path)).toBeNull();
    expect(s.recent.list()).toEqual([]);
  });

  it('keeps at most MAX_RECENT and survives a corrupt file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'attnscope-recent-'));
    const file = join(dir, 'recent.json');
    writeFileSync(file, '{not json');
    const r = new RecentFiles(file);
    expect(r.list()).toEqual([]);
    for (let i = 0; i < MAX_RECENT + 5; i++) r.add('image', `/p/${i}.png`);
    expect(r.list()).toHaveLength(MAX_RECENT);
    writeFileSync(file, JSON.stringify({ items: [{ kind: 'image', path: 'relative.png', openedAt: 1 }, { kind: 'evil', path: '/x', openedAt: 1 }] }));
    expect(new RecentFiles(file).list()).toEqual([]);
  });
});

describe('IPC handlers', () => {
  function ipcRig() {
    const handlers = new Map<string, (e: IpcEvent, ...a: unknown[]) => unknown>();
    const ipc: IpcMainLike = { handle: (c, l) => { handlers.set(c, l); }, on: (c, l) => { handlers.set(c, l as never); } };
    const page = { id: 'page' };
    const s = setup({ open: [] });
    const revealed: string[] = [];
    let portRequests = 0;
    registerIpc(ipc, {
      sender: () => page, version: '0.1.0', dialogs: s.dialogs,
      recent: () => s.recent.list(), reveal: (p) => revealed.push(p), requestEnginePort: () => { portRequests += 1; },
    });
    const own: IpcEvent = { sender: page, senderFrame: { url: 'app://attnscope/index.html' } };
    return { handlers, own, s, revealed, ports: () => portRequests };
  }

  it('answers the page and refuses other senders or frames', async () => {
    const { handlers, own } = ipcRig();
    expect(await handlers.get(CH.appVersion)!(own)).toBe('0.1.0');
    expect(() => handlers.get(CH.appVersion)!({ sender: { id: 'other' } })).toThrow(/unexpected page/);
    expect(() => handlers.get(CH.appVersion)!({ sender: own.sender, senderFrame: { url: 'https://evil.example/' } })).toThrow(/unexpected page/);
    expect(() => handlers.get(CH.appVersion)!({ sender: own.sender, senderFrame: null })).toThrow(/unexpected page/);
  });

  it('reveals only chosen paths and validates arguments', async () => {
    const { handlers, own, s, revealed } = ipcRig();
    expect(() => handlers.get(CH.reveal)!(own, '/etc')).toThrow(/you chose/);
    await s.engine.allow({ writeDir: ['/home/u/out'] });
    handlers.get(CH.reveal)!(own, '/home/u/out');
    expect(revealed).toEqual(['/home/u/out']);
    expect(() => handlers.get(CH.saveDialog)!(own, 42)).toThrow(/string/);
    expect(() => handlers.get(CH.openRecent)!(own, 'a\0b')).toThrow(/string/);
  });

  it('reads the bytes of images the user chose in the dialog or the recent list, and nothing else', async () => {
    const { handlers, own, s } = ipcRig();
    const read = (path: unknown) => handlers.get(CH.readChosenImage)!(own, path) as Promise<Uint8Array>;
    // Nothing chosen yet: refused, even for a file that exists.
    expect(() => read(s.image)).toThrow(/images you chose/);
    const chosen = setup({ open: [s.image] });
    const rig = { handlers: new Map<string, (e: IpcEvent, ...a: unknown[]) => unknown>() };
    registerIpc({ handle: (c, l) => { rig.handlers.set(c, l); }, on: () => {} }, {
      sender: () => own.sender, version: '0', dialogs: chosen.dialogs, recent: () => [], reveal: () => {}, requestEnginePort: () => {},
    });
    const readChosen = (e: IpcEvent, path: unknown) => rig.handlers.get(CH.readChosenImage)!(e, path) as Promise<Uint8Array>;
    // Menu > Open Image: the dialog's answer is what the page may read.
    expect(await chosen.dialogs.openImages()).toEqual([{ path: s.image, name: 'cat.jpg' }]);
    const bytes = await readChosen(own, s.image);
    expect(bytes).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(bytes).toString()).toBe('x');
    // Same file spelled differently: resolved first.
    expect(Buffer.from(await readChosen(own, s.image.replace('/cat.jpg', '/./cat.jpg'))).toString()).toBe('x');
    // Other files, other pages, bad arguments.
    expect(() => readChosen(own, join(s.dir, 'other.jpg'))).toThrow(/images you chose/);
    expect(() => readChosen(own, '/etc/passwd')).toThrow(/images you chose/);
    expect(() => readChosen({ sender: { id: 'other' } }, s.image)).toThrow(/unexpected page/);
    expect(() => readChosen(own, 42)).toThrow(/string/);
    // A model chosen in the model dialog is not an image the page may read.
    const model = setup({ open: [s.image] });
    await model.dialogs.openModel();
    expect(model.dialogs.isChosenImage(s.image)).toBe(false);
    // The recent list: an image re-opened from it may be read.
    const again = new Dialogs({ showOpenDialog: async () => ({ canceled: true, filePaths: [] }), showSaveDialog: async () => ({ canceled: true }) }, chosen.engine, chosen.recent);
    expect(again.isChosenImage(s.image)).toBe(false);
    expect(await again.openRecent(s.image)).toEqual({ path: s.image, name: 'cat.jpg' });
    expect(Buffer.from(await again.readImage(s.image)).toString()).toBe('x');
  });

  it('hands out engine ports only to the page', () => {
    const { handlers, own, ports } = ipcRig();
    handlers.get(CH.enginePortRequest)!({ sender: { id: 'other' } });
    handlers.get(CH.enginePortRequest)!(own);
    expect(ports()).toBe(1);
  });
});
