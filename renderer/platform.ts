// The host around the page: Electron's preload bridge when there is one, else the
// browser (web mode). Only the bridge's types come from the engine side.
import type { AttnScopeBridge } from '../engine/protocol';

export function bridge(): AttnScopeBridge | null {
  const w = window as unknown as { attnscope?: AttnScopeBridge };
  return w.attnscope ?? null;
}

export const IMAGE_ACCEPT = 'image/jpeg,image/png,image/webp,image/gif,image/bmp,image/tiff,.jpg,.jpeg,.png,.webp,.gif,.bmp,.tif,.tiff';
export const MODEL_ACCEPT = '.pth,.pt,.tar,.safetensors,.bin,.onnx';
const MODEL_RE = /\.(pth|pt|pth\.tar|tar|safetensors|bin|onnx)$/i;

export function isModelFile(name: string): boolean {
  return MODEL_RE.test(name);
}

export function isImageFile(f: { name: string; type: string }): boolean {
  return f.type.startsWith('image/') || /\.(jpe?g|png|webp|gif|bmp|tiff?)$/i.test(f.name);
}

/** A file's bytes (FileReader where Blob.arrayBuffer is missing, e.g. jsdom). */
export function readBytes(f: Blob): Promise<ArrayBuffer> {
  if (typeof f.arrayBuffer === 'function') return f.arrayBuffer();
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result as ArrayBuffer);
    reader.onerror = () => reject(reader.error ?? new Error('Could not read the file'));
    reader.readAsArrayBuffer(f);
  });
}

export async function readFiles(files: File[]): Promise<Array<{ name: string; bytes: ArrayBuffer }>> {
  return Promise.all(files.map(async (f) => ({ name: f.name || 'pasted image.png', bytes: await readBytes(f) })));
}

/** Opens a transient file input (works in Electron and in browsers; gives bytes). */
export function pickFiles(accept: string, multiple: boolean): Promise<File[]> {
  return new Promise((resolve) => {
    const input = document.createElement('input');
    input.type = 'file';
    input.accept = accept;
    input.multiple = multiple;
    input.style.display = 'none';
    input.addEventListener('change', () => { resolve(Array.from(input.files ?? [])); input.remove(); });
    input.addEventListener('cancel', () => { resolve([]); input.remove(); });
    document.body.appendChild(input);
    input.click();
  });
}

export const isMac = (): boolean => (bridge()?.platform ?? navigator.platform).toLowerCase().includes('mac');
