// Shared by the export tests: a private build of the CLI and the engine worker (other
// sessions rebuild dist/ while tests run), an in-process engine core to send protocol
// requests to, a fixture checkpoint and small test images.

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import sharp from 'sharp';
import type { EngineMessage } from '../../../engine/protocol';
import type { PathPolicy } from '../../../engine/core';
import { startEngine } from '../../../engine/host/start';

export const root = fileURLToPath(new URL('../../..', import.meta.url));
export const WEIGHTS = join(root, 'test/fixtures/cbam-official-basic/model.safetensors');

export function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

const cliDir = join(root, 'dist', 'test-export', String(process.pid));

/** Bundles engine/cli.ts and engine/host/worker.ts into dist/test-export/<pid>/ and returns the runner script. */
export async function buildCli(): Promise<string> {
  const dir = cliDir;
  mkdirSync(dir, { recursive: true });
  await build({
    entryPoints: [join(root, 'engine/cli.ts'), join(root, 'engine/host/worker.ts')],
    outdir: join(dir, 'engine'), outbase: join(root, 'engine'),
    bundle: true, platform: 'node', target: 'node20', format: 'esm', packages: 'external', logLevel: 'warning',
  });
  const runner = join(dir, 'run.mjs');
  writeFileSync(runner, "const { main } = await import('./engine/cli.js');\nprocess.exitCode = await main(process.argv.slice(2));\n");
  return runner;
}

export function removeCliBuild(): void {
  rmSync(cliDir, { recursive: true, force: true });
}

export interface CliResult { code: number | null; stdout: string; stderr: string }

/** Runs the bundled CLI in a child process. `onStderr` sees output as it comes (for the kill test). */
export function runCli(runner: string, args: string[], opts: { cwd?: string; onSpawn?: (kill: () => void) => void } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [runner, ...args], { cwd: opts.cwd ?? root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    opts.onSpawn?.(() => child.kill('SIGKILL'));
  });
}

/** An in-process engine core: send a request, collect its messages until the final one. */
export function engineCore(paths?: PathPolicy): { request(msg: Record<string, unknown>): Promise<EngineMessage[]>; dispose(): void } {
  let listener: (msg: unknown) => void = () => {};
  const inbox = new Map<number, { msgs: EngineMessage[]; done(m: EngineMessage[]): void }>();
  const core = startEngine({
    postMessage(msg) {
      const m = msg as EngineMessage;
      if (m.id === null) return;
      const box = inbox.get(m.id);
      if (!box) return;
      box.msgs.push(m);
      if (!(m.type === 'tap' || m.type === 'runStarted' || m.type === 'prediction' || m.type.endsWith('Progress'))) {
        inbox.delete(m.id);
        box.done(box.msgs);
      }
    },
    onMessage(l) { listener = l; },
  }, { sources: ['builtin', 'bytes', 'path'], ...(paths ? { paths } : {}) });
  let id = 1;
  return {
    request(msg) {
      const mid = id++;
      return new Promise((resolve) => {
        inbox.set(mid, { msgs: [], done: resolve });
        listener({ ...msg, id: mid });
      });
    },
    dispose() { core.dispose(); },
  };
}

/** A photo-like test image: gradients and a bright square, as JPEG or PNG bytes. */
export async function testImage(width: number, height: number, format: 'jpeg' | 'png', orientation?: number): Promise<Buffer> {
  const px = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = (y * width + x) * 3;
      px[p] = (x * 255) / width; px[p + 1] = (y * 255) / height; px[p + 2] = 90;
      if (x > width / 4 && x < width / 2 && y > height / 5 && y < height / 2) px.fill(250, p, p + 3);
    }
  }
  let img = sharp(px, { raw: { width, height, channels: 3 } });
  if (orientation) img = img.withMetadata({ orientation });
  return format === 'jpeg' ? img.jpeg({ quality: 90 }).toBuffer() : img.png().toBuffer();
}

/** Every file under dir, relative, '/'-separated, sorted. */
export function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(relative(dir, p).split('\\').join('/'));
    }
  };
  walk(dir);
  return out.sort();
}

export const mtimeOf = (path: string): number => statSync(path).mtimeMs;
