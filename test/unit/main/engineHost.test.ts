import { describe, expect, it } from 'vitest';
import { EngineHost, type PageLink } from '../../../main/engineHost';
import { FakePort, FakeProcess, FakeWebContents } from './fakes';

function rig(options: { maxRestarts?: number } = {}) {
  const forks: FakeProcess[] = [];
  let channels = 0;
  let t = 0;
  const host = new EngineHost({
    fork: (modulePath, _args, opts) => { const p = new FakeProcess(modulePath, opts); forks.push(p); return p; },
    createChannel: () => {
      channels += 1;
      return { port1: new FakePort(`engine-${channels}`), port2: new FakePort(`page-${channels}`) } as never;
    },
  }, { enginePath: '/app/dist/engine/host/electron.js', now: () => (t += 1000), ...options });
  const contents = new FakeWebContents();
  const page: PageLink = contents as unknown as PageLink;
  return { host, forks, contents, page };
}

describe('engine host (utility process + MessageChannelMain)', () => {
  it('forks the engine and hands one port of a new channel to it and the other to the page', () => {
    const { host, forks, contents, page } = rig();
    host.connect(page);
    expect(forks).toHaveLength(1);
    expect(forks[0]!.modulePath).toBe('/app/dist/engine/host/electron.js');
    expect(forks[0]!.messages).toEqual([{ message: { type: 'port' }, transfer: [new FakePort('engine-1')] }]);
    expect(contents.posted).toEqual([{ channel: 'engine-port', message: { generation: 0 }, transfer: [new FakePort('page-1')] }]);
    // Main keeps neither end's traffic: it only created the channel.
    expect(contents.sent).toEqual([]);
  });

  it('a page reload gets a new channel to the same engine', () => {
    const { host, forks, contents, page } = rig();
    host.connect(page);
    host.connect(page);
    expect(forks).toHaveLength(1);
    expect(contents.posted.map((p) => p.message)).toEqual([{ generation: 0 }, { generation: 1 }]);
    expect(forks[0]!.messages.map((m) => (m.transfer[0] as FakePort).name)).toEqual(['engine-1', 'engine-2']);
  });

  it('passes the paths the user chose to the engine (resolving on its acknowledgement), and replays them after a restart', async () => {
    const { host, forks, page } = rig();
    host.connect(page);
    await host.allow({ read: ['/home/u/cat.jpg'] });
    await host.allow({ writeDir: ['/home/u/out'] });
    expect(forks[0]!.messages.slice(1).map((m) => m.message)).toEqual([
      { type: 'allow', seq: 1, read: ['/home/u/cat.jpg'] },
      { type: 'allow', seq: 2, writeDir: ['/home/u/out'] },
    ]);
    forks[0]!.autoAck = false;
    let settled = false;
    const pending = host.allow({ read: ['/home/u/dog.jpg'] }).then(() => { settled = true; });
    await new Promise((r) => setTimeout(r, 10));
    expect(settled).toBe(false);
    forks[0]!.emit('message', { type: 'allowed', seq: 3 });
    await pending;
    expect(host.isChosen('/home/u/cat.jpg')).toBe(true);
    expect(host.isChosen('/home/u/out/cat_layer1.png')).toBe(true);
    expect(host.isChosen('/home/u/outside.png')).toBe(false);
    expect(host.isChosen('/home/u/out/../secret')).toBe(false);
    forks[0]!.emit('exit', 139);
    expect(forks[1]!.messages[0]!.message).toEqual({ type: 'allow', read: ['/home/u/cat.jpg', '/home/u/dog.jpg'], writeFile: [], writeDir: ['/home/u/out'] });
  });

  it('restarts a crashed engine, tells the page, and sends it a port to the new one', () => {
    const { host, forks, contents, page } = rig();
    host.connect(page);
    forks[0]!.emit('exit', 134);
    expect(contents.sent).toEqual([{ channel: 'engine-status', message: { state: 'restarting', message: expect.stringContaining('exit code 134') } }]);
    expect(forks).toHaveLength(2);
    expect(forks[1]!.messages.at(-1)).toEqual({ message: { type: 'port' }, transfer: [new FakePort('engine-2')] });
    expect(contents.posted.at(-1)).toEqual({ channel: 'engine-port', message: { generation: 1 }, transfer: [new FakePort('page-2')] });
    expect(host.running).toBe(true);
  });

  it('gives up after repeated crashes and says so', () => {
    const { host, forks, contents, page } = rig({ maxRestarts: 2 });
    host.connect(page);
    for (let i = 0; i < 3; i++) forks.at(-1)!.emit('exit', 1);
    expect(forks).toHaveLength(3);
    expect(contents.sent.at(-1)?.message).toMatchObject({ state: 'failed' });
    expect(host.running).toBe(false);
  });

  it('kills the engine when the window closes and does not restart it', async () => {
    const { host, forks, contents, page } = rig();
    host.connect(page);
    host.stop();
    expect(forks[0]!.killed).toBe(true);
    await new Promise((r) => setTimeout(r, 0));
    expect(forks).toHaveLength(1);
    expect(contents.sent).toEqual([]);
    host.connect(page);
    expect(forks).toHaveLength(1);
  });
});
