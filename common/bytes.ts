// Byte buffers that cross a process or context boundary whole: a view into a larger
// (pooled) buffer would carry the rest of that buffer along, so it is copied; an exact
// one is passed on as it is, without copying up to hundreds of MB.

/** An ArrayBuffer holding exactly the view's bytes: the view's own buffer when it spans all of it, else a copy. */
export function exactArrayBuffer(view: Uint8Array): ArrayBuffer {
  if (view.byteOffset === 0 && view.byteLength === view.buffer.byteLength && view.buffer instanceof ArrayBuffer) return view.buffer;
  return view.slice().buffer;
}
