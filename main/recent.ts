// Recently opened images and models, kept in <userData>/recent.json. Only paths the user
// chose go in; what comes out is checked again (the file may be edited by hand).

import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, isAbsolute } from 'node:path';
import type { RecentFile } from '../engine/bridge';

export const MAX_RECENT = 12;

export class RecentFiles {
  private items: RecentFile[];

  constructor(private readonly file: string, private readonly now: () => number = Date.now) {
    this.items = RecentFiles.read(file);
  }

  list(): RecentFile[] {
    return this.items.map((i) => ({ ...i }));
  }

  find(path: string): RecentFile | undefined {
    return this.items.find((i) => i.path === path);
  }

  add(kind: RecentFile['kind'], path: string): void {
    this.items = [{ kind, path, name: basename(path), openedAt: this.now() }, ...this.items.filter((i) => i.path !== path)].slice(0, MAX_RECENT);
    this.save();
  }

  remove(path: string): void {
    this.items = this.items.filter((i) => i.path !== path);
    this.save();
  }

  clear(): void {
    this.items = [];
    this.save();
  }

  private save(): void {
    try {
      mkdirSync(dirname(this.file), { recursive: true });
      const tmp = `${this.file}.tmp`;
      writeFileSync(tmp, JSON.stringify({ version: 1, items: this.items }, null, 2));
      renameSync(tmp, this.file);
    } catch (err) {
      console.warn(`could not save the recent files list: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private static read(file: string): RecentFile[] {
    if (!existsSync(file)) return [];
    try {
      const data = JSON.parse(readFileSync(file, 'utf8')) as { items?: unknown };
      if (!Array.isArray(data.items)) return [];
      return data.items.filter((i): i is RecentFile => typeof i === 'object' && i !== null
        && ((i as RecentFile).kind === 'image' || (i as RecentFile).kind === 'model')
        && typeof (i as RecentFile).path === 'string' && isAbsolute((i as RecentFile).path)
        && typeof (i as RecentFile).openedAt === 'number')
        .map((i) => ({ kind: i.kind, path: i.path, name: basename(i.path), openedAt: i.openedAt }))
        .slice(0, MAX_RECENT);
    } catch {
      return [];
    }
  }
}
