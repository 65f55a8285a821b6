// Batches for `attnscope export --batch N`: concurrent run() calls of decoded images (N
// images being exported at once on one engine, their JPEG decoding on libuv's threads
// meanwhile) are gathered and sent as one forward pass of batch N (Session.runBatch). The
// first call of a batch waits at most `waitMs` for the others, so the tail of an export
// and a lone image are not held up.

import type { DecodedImage } from './image';
import type { RunImage, RunHooks, Session } from './session';
import type { RunOptions, RunResult } from './types';

interface Pending { image: DecodedImage; options: RunOptions; resolve(r: RunResult): void; reject(e: unknown): void }

/** The most images `--batch auto` puts in one pass. */
export const MAX_AUTO_BATCH = 32;

/**
 * `--batch` when not given: 1 on the CPU (a pass of N is N passes' work there), else as many
 * images as the memory limit holds at once (`perImage` bytes each, the run estimate),
 * at most MAX_AUTO_BATCH. (WebGPU does not say how much GPU memory there is: the host's limit
 * bounds the inputs and maps read back, which the host holds for every image of the batch.)
 */
export function autoBatch(device: 'cpu' | 'gpu', limitBytes: number, perImage: number | null): number {
  if (device !== 'gpu') return 1;
  if (!perImage || perImage <= 0) return 8;
  return Math.max(1, Math.min(MAX_AUTO_BATCH, Math.floor(limitBytes / perImage)));
}

/** What exportImage needs of a session, with run() going through the batches. */
export type BatchedSession = Pick<Session, 'info' | 'run' | 'cam'>;

export class RunBatcher {
  private queue: Pending[] = [];
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** Passes run, and images in them (for the summary). */
  passes = 0;
  images = 0;

  constructor(private readonly session: Session, readonly size: number, private readonly waitMs = 50) {}

  /** The session as exportImage uses it. */
  asSession(): BatchedSession {
    return {
      info: this.session.info,
      run: (req: { image: RunImage; options?: RunOptions }, hooks?: RunHooks) => this.run(req, hooks),
      cam: this.session.cam.bind(this.session),
    } as BatchedSession;
  }

  run(req: { image: RunImage; options?: RunOptions }, hooks: RunHooks = {}): Promise<RunResult> {
    // Only decoded, untiled images batch; anything else runs as it comes.
    if (req.image.kind !== 'decoded' || req.options?.tile || this.size <= 1) return this.session.run(req, hooks);
    const image = req.image.image;
    return new Promise<RunResult>((resolve, reject) => {
      this.queue.push({ image, options: req.options ?? {}, resolve, reject });
      if (this.queue.length >= this.size) void this.flush();
      else this.timer ??= setTimeout(() => void this.flush(), this.waitMs);
    });
  }

  private async flush(): Promise<void> {
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
    const batch = this.queue.splice(0, this.size);
    if (!batch.length) return;
    if (this.queue.length) this.timer = setTimeout(() => void this.flush(), this.waitMs);
    try {
      const results = await this.session.runBatch(batch.map((b) => ({ image: b.image, options: b.options })));
      this.passes++;
      this.images += batch.length;
      batch.forEach((b, i) => b.resolve(results[i] as RunResult));
    } catch {
      // A batch that fails (one image the network refuses, memory) runs image by image, so
      // each failure stays with its own image.
      for (const b of batch) {
        try {
          b.resolve(await this.session.run({ image: { kind: 'decoded', image: b.image }, options: b.options }));
          this.passes++;
          this.images++;
        } catch (e) {
          b.reject(e);
        }
      }
    }
  }
}
