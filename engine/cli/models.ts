// `attnscope models list|pull`: the catalogue of timm ImageNet attention networks
// (engine/hub/catalogue.ts) and their download into the cache (engine/hub/download.ts).

import { parseArgs } from 'node:util';
import { EngineError } from '../errors';
import { defaultCacheDir, listHubModels, resolveHubModel } from '../hub/cache';
import { pull, type PullProgress } from '../hub/download';

export const MODELS_USAGE = `attnscope models list [--json]
attnscope models pull NAME [--hub-url URL]

  list                 the ImageNet attention networks AttnScope can download (timm's
                       pretrained weights): name, family, parameters, ImageNet top-1 at
                       the listed input size, download size, license, whether cached
  pull NAME            download NAME (a name from the list, or a hub repo id like
                       timm/seresnet50.a1_in1k) into the cache once; prints its folder.
                       Resumes an interrupted download; checks the SHA-256 the hub lists.

Options:
  --json               list: one JSON array instead of the table
  --hub-url URL        the hub (default: ATTNSCOPE_HUB_URL, else https://huggingface.co)
  --cache DIR          cache folder (default: ATTNSCOPE_CACHE, else the platform's:
                       ~/.cache/attnscope, ~/Library/Caches/AttnScope,
                       %LOCALAPPDATA%\\AttnScope\\Cache)
  --quiet              pull: no progress on stderr

Proxies: HTTPS_PROXY, HTTP_PROXY and NO_PROXY (either case) are used.`;

const mb = (n: number): string => `${(n / 1e6).toFixed(n < 1e7 ? 1 : 0)} MB`;

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n');
}

function progressPrinter(name: string): (p: PullProgress) => void {
  const tty = process.stderr.isTTY === true;
  const started = Date.now();
  let lastStep = -1;
  let lastDraw = 0;
  return (p) => {
    const pct = p.total > 0 ? Math.floor((p.bytes / p.total) * 100) : 0;
    const secs = (Date.now() - started) / 1000;
    const line = `${name}: ${p.file} ${mb(p.bytes)}${p.total ? ` of ${mb(p.total)} (${pct}%)` : ''}${secs > 0.5 ? `, ${(p.bytes / 1e6 / secs).toFixed(1)} MB/s` : ''}`;
    if (tty) {
      const now = Date.now();
      if (now - lastDraw < 100 && p.bytes < p.total) return;
      lastDraw = now;
      process.stderr.write(`\r${line}\x1b[K`);
    } else {
      const step = Math.floor(pct / 10);
      if (step === lastStep) return;
      lastStep = step;
      process.stderr.write(`${line}\n`);
    }
  };
}

export async function models(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      json: { type: 'boolean' },
      'hub-url': { type: 'string' },
      cache: { type: 'string' },
      quiet: { type: 'boolean', short: 'q' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(MODELS_USAGE);
    return 0;
  }
  const usage = (msg: string): EngineError => new EngineError('bad-request', msg, 'See `attnscope models --help`.');
  const [action, ...rest] = positionals;
  const cacheDir = values.cache ?? defaultCacheDir();

  if (action === 'list') {
    if (rest.length) throw usage(`models list takes no names (got ${rest.join(' ')}).`);
    const list = listHubModels(cacheDir);
    if (values.json) {
      console.log(JSON.stringify(list.map((m) => ({ ...m, ...(m.cached ? { dir: resolveHubModel(m.repo, { cacheDir }) } : {}) })), null, 2));
      return 0;
    }
    const rows = [['NAME', 'FAMILY', 'PARAMS', 'TOP-1', 'SIZE', 'LICENSE', 'CACHED']];
    for (const m of list) {
      rows.push([m.name, m.family, `${m.paramsM.toFixed(1)}M`, `${m.top1.toFixed(1)}% @${m.imageSize}`,
        `${m.bytesEstimated ? '~' : ''}${mb(m.bytes)}`, m.license, m.cached ? 'yes' : 'no']);
    }
    console.log(table(rows));
    console.log(`\nTop-1: ImageNet-1k validation, timm's results table. ~: estimated from the parameters. Cache: ${cacheDir}`);
    return 0;
  }

  if (action === 'pull') {
    if (rest.length !== 1) throw usage(rest.length ? 'Give one model to pull.' : 'Give the model to pull, e.g. `attnscope models pull seresnet50`.');
    const name = rest[0] as string;
    const abort = new AbortController();
    const onSigint = (): void => abort.abort();
    process.once('SIGINT', onSigint);
    const progress = values.quiet ? undefined : progressPrinter(name);
    try {
      const result = await pull(name, {
        cacheDir, signal: abort.signal,
        ...(values['hub-url'] !== undefined ? { baseUrl: values['hub-url'] } : {}),
        ...(progress ? { onProgress: progress } : {}),
      });
      if (progress && process.stderr.isTTY) process.stderr.write('\n');
      if (!values.quiet) {
        process.stderr.write(result.fromCache
          ? `${result.repo} is in the cache already.\n`
          : `${result.repo}: ${mb(result.bytes)}, sha256 ${result.sha256} checked.\n`);
      }
      console.log(result.dir);
      return 0;
    } catch (err) {
      if (progress && process.stderr.isTTY) process.stderr.write('\n');
      throw err;
    } finally {
      process.off('SIGINT', onSigint);
    }
  }

  throw usage(action === undefined ? 'Give an action: list or pull.' : `Unknown action "${action}": use list or pull.`);
}
