// One pull per cache folder across processes (the app and `attnscope models pull` at
// once): a lock file created exclusively, holding the owner's pid. A lock whose process
// is gone is stale and taken over.

import { open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { EngineError } from '../errors';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes `<dir>/.lock`; resolves with the function that releases it. */
export async function lockFolder(dir: string, what: string): Promise<() => Promise<void>> {
  const path = join(dir, '.lock');
  for (let tries = 0; ; tries++) {
    try {
      const handle = await open(path, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      return () => rm(path, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || tries > 0) throw err;
      const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim());
      if (Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new EngineError('io', `Another AttnScope process (pid ${pid}) is downloading ${what} into ${dir}.`, 'Wait for it to finish, then try again.');
      }
      await rm(path, { force: true }); // stale: its process is gone
    }
  }
}
