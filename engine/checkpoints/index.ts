// Entry point for checkpoint files: sniff the format from the first bytes, then let
// that format's reader open it.
import { EngineError } from '../errors';
import { BufferSource, FileSource } from './byteSource';
import { safetensorsReader } from './safetensors';
import { torchLegacyReader } from './torchLegacy';
import { torchZipReader } from './torchZip';
import type { ByteSource, CheckpointContents, CheckpointReader, LoadProgress } from './types';

export const READERS: readonly CheckpointReader[] = [torchZipReader, torchLegacyReader, safetensorsReader];
export { BufferSource, FileSource };
export { checkStateDict, describeSpec, detectArchitecture, type Detection } from './detect';
export { expectedKeys } from './specKeys';
export type { ByteSource, CheckpointContents, LoadProgress };

export async function openCheckpoint(source: ByteSource, onProgress?: LoadProgress): Promise<CheckpointContents> {
  if (source.size === 0) {
    throw new EngineError('bad-checkpoint', `${source.name}: the file is empty (0 bytes)`);
  }
  const head = await source.read(0, Math.min(64, source.size));
  const reader = READERS.find((r) => r.match(head, source.name));
  if (!reader) {
    const hint = head[0] === 0x80
      ? 'It looks like a Python pickle, but not one written by torch.save.'
      : 'Expected a .pth / .pth.tar written by torch.save, or a .safetensors file.';
    throw new EngineError(
      'bad-checkpoint',
      `${source.name}: not a PyTorch checkpoint or safetensors file: no data.pkl, no pickle header, no safetensors header (starts with bytes ${describeHead(head)})`,
      hint,
    );
  }
  return reader.open(source, onProgress);
}

export async function openCheckpointFile(path: string, onProgress?: LoadProgress): Promise<CheckpointContents> {
  const source = await FileSource.open(path);
  try {
    return await openCheckpoint(source, onProgress);
  } finally {
    await source.close();
  }
}

function describeHead(head: Uint8Array): string {
  const first = head.subarray(0, 8);
  const hex = [...first].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  const text = [...first].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
  return `${hex} "${text}"`;
}
