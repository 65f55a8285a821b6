import { describe, expect, it } from 'vitest';
import type { MenuItemConstructorOptions } from 'electron';
import type { MenuCommand, RecentFile } from '../../../engine/bridge';
import { buildMenuTemplate, COLORMAPS, type MenuContext } from '../../../main/menu';

function ctx(over: Partial<MenuContext> = {}) {
  const sent: MenuCommand[] = [];
  const recent: RecentFile[] = [
    { kind: 'model', path: '/m/resnet50_cbam.pth', name: 'resnet50_cbam.pth', openedAt: 2 },
    { kind: 'image', path: '/i/cat.jpg', name: 'cat.jpg', openedAt: 1 },
  ];
  const c: MenuContext = {
    isMac: false, appName: 'AttnScope', version: '0.1.0', colormaps: COLORMAPS, dev: false,
    recent: () => recent,
    openImages: async () => [{ path: '/i/dog.png', name: 'dog.png' }],
    openModel: async () => null,
    openRecent: async (p) => ({ path: p, name: p.split('/').at(-1)! }),
    clearRecent: () => {},
    send: (command) => sent.push(command),
    ...over,
  };
  return { c, sent };
}

const sub = (item: MenuItemConstructorOptions | undefined) => (item?.submenu ?? []) as MenuItemConstructorOptions[];
const byId = (items: MenuItemConstructorOptions[], id: string) => items.find((i) => i.id === id);
const click = (item: MenuItemConstructorOptions | undefined) => (item?.click as unknown as () => void)();

describe('application menu', () => {
  it('has File, Edit, View, Help (and the app menu on macOS)', () => {
    expect(buildMenuTemplate(ctx().c).map((m) => m.label ?? m.role)).toEqual(['&File', 'editMenu', '&View', '&Help']);
    expect(buildMenuTemplate(ctx({ isMac: true }).c).map((m) => m.label ?? m.role)).toEqual(['appMenu', '&File', 'editMenu', '&View', '&Help']);
  });

  it('File: Open Image, Open Model, Open Recent, Export with shortcuts; items send small commands', async () => {
    const { c, sent } = ctx();
    const file = sub(buildMenuTemplate(c)[0]);
    expect(byId(file, 'open-image')?.accelerator).toBe('CmdOrCtrl+O');
    expect(byId(file, 'open-model')?.accelerator).toBe('CmdOrCtrl+Shift+O');
    expect(byId(file, 'export')?.accelerator).toBe('CmdOrCtrl+E');
    click(byId(file, 'open-image'));
    click(byId(file, 'open-model'));
    click(byId(file, 'export'));
    const recent = sub(byId(file, 'recent'));
    expect(recent.map((r) => r.label)).toEqual(['Model: resnet50_cbam.pth', 'Image: cat.jpg', undefined, 'Clear Recent']);
    click(recent[0]);
    click(recent[1]);
    await new Promise((r) => setTimeout(r, 0));
    expect(sent).toHaveLength(4);
    expect(sent).toEqual(expect.arrayContaining([
      { command: 'export' },
      { command: 'openModel', file: { path: '/m/resnet50_cbam.pth', name: 'resnet50_cbam.pth' } },
      { command: 'openImage', files: [{ path: '/i/cat.jpg', name: 'cat.jpg' }] },
      { command: 'openImage', files: [{ path: '/i/dog.png', name: 'dog.png' }] },
    ]));
  });

  it('View: every engine colormap, opacity shortcuts, overlay toggle; no dev tools in release', () => {
    const { c, sent } = ctx();
    const view = sub(buildMenuTemplate(c)[2]);
    const maps = sub(byId(view, 'colormap'));
    expect(maps.map((m) => m.label)).toEqual([...COLORMAPS]);
    click(maps[1]);
    click(byId(view, 'opacity-up'));
    click(byId(view, 'opacity-down'));
    click(byId(view, 'toggle-overlay'));
    expect(sent).toEqual([{ command: 'colormap', name: 'turbo' }, { command: 'opacity', delta: 0.1 }, { command: 'opacity', delta: -0.1 }, { command: 'toggleOverlay' }]);
    expect(byId(view, 'opacity-up')?.accelerator).toBe('CmdOrCtrl+]');
    expect(view.some((i) => i.role === 'toggleDevTools')).toBe(false);
    expect(sub(buildMenuTemplate(ctx({ dev: true }).c)[2]).some((i) => i.role === 'toggleDevTools')).toBe(true);
  });

  it('Help: About sends the version', () => {
    const { c, sent } = ctx();
    click(sub(buildMenuTemplate(c)[3])[0]);
    expect(sent).toEqual([{ command: 'about', version: '0.1.0' }]);
  });
});
