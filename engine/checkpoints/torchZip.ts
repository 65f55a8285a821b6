// PyTorch zip checkpoints (torch.save default since 1.6): `<prefix>/data.pkl` holds the
// pickle, `<prefix>/data/<key>` each storage's raw little-endian bytes.
import { EngineError } from '../errors';
import { ELEMENT_SIZE, nonFiniteWarning } from './dtypes';
import { findStateDict } from './keyMap';
import { unpickle } from './pickle';
import { StorageTable, TORCH_GLOBALS, materialise } from './torchPickle';
import type { ByteSource, CheckpointContents, CheckpointReader, LoadProgress } from './types';
import { readEntry, readZipDirectory } from './zip';

export const torchZipReader: CheckpointReader = {
  format: 'torch-zip',

  match(head: Uint8Array): boolean {
    return head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04;
  },

  async open(source: ByteSource, onProgress?: LoadProgress): Promise<CheckpointContents> {
    const entries = await readZipDirectory(source);
    const pkl = [...entries.values()].find((e) => e.name === 'data.pkl' || e.name.endsWith('/data.pkl'));
    if (!pkl) {
      const names = [...entries.keys()].slice(0, 5).join(', ');
      throw new EngineError('bad-checkpoint', `${source.name}: a zip file but not a PyTorch checkpoint: no data.pkl inside (entries: ${names || 'none'})`);
    }
    if ([...entries.keys()].some((n) => /(^|\/)(constants\.pkl|code\/)/.test(n))) {
      throw new EngineError(
        'bad-checkpoint',
        `${source.name}: a TorchScript archive (torch.jit.save), not a state dict; AttnScope reads weights, not scripted code`,
        'Save the weights instead: torch.save(model.state_dict(), "weights.pth").',
      );
    }
    const prefix = pkl.name.slice(0, pkl.name.length - 'data.pkl'.length);
    const what = `${source.name} (${pkl.name})`;
    const pickleBytes = await readEntry(source, pkl);
    const { value } = unpickle(pickleBytes, 0, true, { globals: TORCH_GLOBALS, persistentLoad: new StorageTable(what).load, what });
    const found = findStateDict(value, what);

    let done = 0;
    const total = [...found.tensors.values()].reduce((n, t) => n + t.storage.numel * ELEMENT_SIZE[t.storage.dtype], 0);
    const tensors = await materialise(found.tensors, async (ref) => {
      const entry = entries.get(`${prefix}data/${ref.key}`);
      if (!entry) throw new EngineError('bad-checkpoint', `${source.name}: storage ${ref.key} is missing from the zip (expected ${prefix}data/${ref.key})`);
      const bytes = await readEntry(source, entry);
      const need = ref.numel * ELEMENT_SIZE[ref.dtype];
      if (bytes.length < need) {
        throw new EngineError('bad-checkpoint', `${source.name}: storage ${ref.key} has ${bytes.length} bytes, but the pickle says ${need}`);
      }
      done += need;
      onProgress?.(Math.min(done, total), total);
      return bytes;
    });
    return { format: 'torch-zip', tensors, meta: found.meta, warnings: nonFiniteWarning(tensors) };
  },
};
