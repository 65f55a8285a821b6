// Drag-and-drop anywhere on the window, and paste: images open (several at once become
// a filmstrip), a checkpoint file loads as the model.
import { useEffect, useState } from 'react';
import { useCommands } from '../hooks/useCommands';
import { isImageFile, isModelFile, readFiles } from '../platform';
import { useActions } from '../store';

export function DropZone() {
  const a = useActions();
  const cmd = useCommands();
  const [over, setOver] = useState(false);

  useEffect(() => {
    let depth = 0;
    const hasFiles = (e: DragEvent) => Array.from(e.dataTransfer?.types ?? []).includes('Files');
    const onEnter = (e: DragEvent) => { if (!hasFiles(e)) return; e.preventDefault(); depth++; setOver(true); };
    const onOver = (e: DragEvent) => { if (!hasFiles(e)) return; e.preventDefault(); if (e.dataTransfer) e.dataTransfer.dropEffect = 'copy'; };
    const onLeave = (e: DragEvent) => { if (!hasFiles(e)) return; depth = Math.max(0, depth - 1); if (depth === 0) setOver(false); };
    const onDrop = (e: DragEvent) => {
      e.preventDefault();
      depth = 0;
      setOver(false);
      void openFiles(Array.from(e.dataTransfer?.files ?? []));
    };
    const onPaste = (e: ClipboardEvent) => {
      const target = e.target as HTMLElement | null;
      if (target && (target.tagName === 'INPUT' || target.tagName === 'TEXTAREA')) return;
      const files = Array.from(e.clipboardData?.files ?? []).filter(isImageFile);
      if (files.length) { e.preventDefault(); void openFiles(files); }
    };
    const openFiles = async (files: File[]) => {
      const model = files.find((f) => isModelFile(f.name));
      const images = files.filter(isImageFile);
      if (model) await cmd.openModelFile(model);
      if (images.length) a.addImages(await readFiles(images));
      else if (!model && files.length) a.showToast(`Not an image or a checkpoint: ${files[0]!.name}. Drop a JPEG/PNG/WebP image, or a .pth / .safetensors / .onnx model.`, 'error');
    };
    window.addEventListener('dragenter', onEnter);
    window.addEventListener('dragover', onOver);
    window.addEventListener('dragleave', onLeave);
    window.addEventListener('drop', onDrop);
    window.addEventListener('paste', onPaste);
    return () => {
      window.removeEventListener('dragenter', onEnter);
      window.removeEventListener('dragover', onOver);
      window.removeEventListener('dragleave', onLeave);
      window.removeEventListener('drop', onDrop);
      window.removeEventListener('paste', onPaste);
    };
  }, [a, cmd]);

  return over ? <div className="dropveil" data-testid="dropveil"><div>Drop to open</div></div> : null;
}
