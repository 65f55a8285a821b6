// The protocol's `export` request (GUI export): one image, the loaded model, the chosen
// modules and kinds, into a folder the user chose in a dialog or back as a zip (web
// mode). It calls the same exportImage() as `attnscope export`, so files are identical.
// Register with `registerExportHandler(core)` in engine/handlers.ts.

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import type { EngineCore } from './core';
import { EngineError } from './errors';
import { type ExportedFile, exportImage, insideDir, stemOf } from './exportJob';
import { MANIFEST_NAME, updateManifest } from './exportManifest';
import type { ExportDoneReply, ExportRequest } from './protocol';
import { zipStore } from './zip';
import { exactArrayBuffer } from '../common/bytes';

/** Progress events at most this often (ms), plus the last one. */
const PROGRESS_INTERVAL_MS = 100;

export function registerExportHandler(core: EngineCore): void {
  core.handle<ExportRequest>('export', {
    serial: true,
    async handle({ msg, core, signal, send, session, paths }) {
      const model = session();
      let bytes: Uint8Array;
      let name: string;
      if (msg.image.kind === 'path') {
        if (!core.sources.includes('path')) throw new EngineError('forbidden', 'This engine does not accept file paths.');
        if (!paths.canRead(msg.image.path)) {
          throw new EngineError('forbidden', `The engine may not read ${msg.image.path}: it was not chosen in a dialog.`);
        }
        name = basename(msg.image.path);
        try {
          bytes = await readFile(msg.image.path);
        } catch (err) {
          throw new EngineError('io', `Cannot read ${msg.image.path}: ${(err as Error).message}`);
        }
      } else {
        name = msg.image.name;
        bytes = new Uint8Array(msg.image.bytes);
      }

      const download = msg.destination.kind === 'download';
      if (!download && !core.sources.includes('path')) {
        throw new EngineError('forbidden', 'This engine cannot write to folders here.', 'Export as a download instead.');
      }
      const outDir = msg.destination.kind === 'dir' ? resolve(msg.destination.path) : await mkdtemp(join(tmpdir(), 'attnscope-export-'));
      try {
        let last = 0;
        const files: ExportedFile[] = await exportImage({
          session: model,
          appVersion: core.provider.version,
          imageName: name,
          bytes,
          outDir,
          ...(msg.folder !== undefined ? { folder: msg.folder } : {}),
          modules: msg.modules && msg.modules.length > 0 ? msg.modules : null,
          kinds: msg.kinds,
          settings: msg.settings,
          keepExisting: msg.keepExisting ?? false,
          signal,
          ...(download ? {} : { canWrite: (p: string) => paths.canWrite(p) }),
          onFile(file, done, total) {
            const now = Date.now();
            if (now - last < PROGRESS_INTERVAL_MS && done < total) return;
            last = now;
            send({ type: 'exportProgress', id: msg.id, done, total, file: file.path });
          },
        });
        if (!download && msg.manifest !== false && !paths.canWrite(insideDir(outDir, MANIFEST_NAME))) {
          throw new EngineError('forbidden', `The engine may not write ${MANIFEST_NAME} in ${outDir}.`);
        }
        if (msg.manifest !== false) await updateManifest(outDir, files, [], [name]);
        const list = files.map((f) => f.path);
        const reply: ExportDoneReply = { type: 'exportDone', id: msg.id, dir: download ? null : outDir, files: list, entries: files };
        if (download) {
          const entries = await Promise.all([...list, ...(msg.manifest !== false ? [MANIFEST_NAME] : [])].map(async (p) => ({ name: p, bytes: await readFile(insideDir(outDir, p)) })));
          const zip = zipStore(entries);
          const buffer = exactArrayBuffer(zip);
          reply.archive = { name: `${stemOf(name)}-attnscope.zip`, bytes: buffer };
        }
        return reply;
      } finally {
        if (download) await rm(outDir, { recursive: true, force: true });
      }
    },
  });
}
