// Which files the engine may read and write when the host says so (Electron: main
// forwards every path the user chose in a dialog; see engine/bridge.ts).

import { resolve, sep } from 'node:path';
import type { PathPolicy } from '../core';

export class AllowListPolicy implements PathPolicy {
  private readonly readable = new Set<string>();
  private readonly writableFiles = new Set<string>();
  private readonly writableDirs = new Set<string>();

  allowRead(path: string): void { this.readable.add(resolve(path)); }
  allowWriteFile(path: string): void { this.writableFiles.add(resolve(path)); }
  /** Files anywhere below `dir` become writable (an export folder). */
  allowWriteDir(dir: string): void { this.writableDirs.add(resolve(dir)); }

  canRead(path: string): boolean {
    return this.readable.has(resolve(path));
  }

  canWrite(path: string): boolean {
    const p = resolve(path);
    if (this.writableFiles.has(p)) return true;
    for (const dir of this.writableDirs) if (p.startsWith(dir.endsWith(sep) ? dir : dir + sep)) return true;
    return false;
  }
}
