// Commands shared by buttons, keyboard shortcuts and the Electron menu.
import { useMemo } from 'react';
import type { ChosenFile } from '../../engine/protocol';
import { bridge, IMAGE_ACCEPT, isImageFile, MODEL_ACCEPT, pickFiles, readBytes, readFiles } from '../platform';
import { useAppStore, type AppStore } from '../store';
import { exactArrayBuffer } from '../../common/bytes';

export interface Commands {
  openImages(): Promise<void>;
  /** Images chosen in main's dialog (File > Open Image, Open Recent): read as bytes through the bridge. */
  openChosenImages(files: ChosenFile[]): Promise<void>;
  openModel(): Promise<void>;
  openModelFile(file: File): Promise<void>;
  openExport(): void;
}

export function makeCommands(store: AppStore): Commands {
  const s = () => store.getState();
  const commands: Commands = {
    async openImages() {
      // A file input gives bytes in Electron and in browsers alike, so the page can show
      // the image (with EXIF orientation) and send the same bytes to the engine.
      const files = (await pickFiles(IMAGE_ACCEPT, true)).filter(isImageFile);
      if (files.length) s().addImages(await readFiles(files));
    },
    async openChosenImages(files) {
      const b = bridge();
      if (!b || files.length === 0) { if (files.length) s().addImagePaths(files); return; }
      // Bytes, as from the page's own file input: the page shows the image under the
      // overlay and the engine decodes the same bytes. A file that cannot be read still
      // runs by path (the engine may read it), only without the picture underneath.
      const read = await Promise.allSettled(files.map(async (f) => ({ name: f.name, bytes: exactArrayBuffer(await b.readChosenImage(f.path)) })));
      const ok = read.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      const failed = files.filter((_, i) => read[i]?.status === 'rejected');
      if (ok.length) s().addImages(ok);
      if (failed.length) {
        s().addImagePaths(failed);
        s().showToast(`Could not read ${failed.map((f) => f.name).join(', ')}; its maps are shown without the image.`);
      }
    },
    async openModel() {
      const b = bridge();
      if (b && s().engine.sources.includes('path')) {
        const chosen = await b.openModelDialog();
        if (chosen) await s().loadModel({ kind: 'path', path: chosen.path }, chosen.name);
        return;
      }
      const [file] = await pickFiles(MODEL_ACCEPT, false);
      if (file) await commands.openModelFile(file);
    },
    async openModelFile(file: File) {
      await s().loadModel({ kind: 'bytes', name: file.name, bytes: await readBytes(file) }, file.name);
    },
    openExport() {
      if (s().images.currentId && s().model.info) s().openExport(true);
      else s().showToast('Open an image first: export writes the maps of the current image.');
    },
  };
  return commands;
}

export function useCommands(): Commands {
  const store = useAppStore();
  return useMemo(() => makeCommands(store), [store]);
}
