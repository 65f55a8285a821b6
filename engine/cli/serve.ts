// `attnscope serve`: web mode (DESIGN.md). Serves the built renderer and the engine
// WebSocket on 127.0.0.1, a random port and a random token unless told otherwise.

import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { EngineError } from '../errors';
import { rendererDir, workerEntryUrl } from '../host/paths';
import { isLoopback, startWebServer } from '../host/webServer';
import { parseRuntimeOptions, RUNTIME_OPTIONS } from './runtimeOptions';

export const SERVE_USAGE = `attnscope serve [--port N] [--host 127.0.0.1] [--allow-remote] [--model NAME | --weights FILE]

Serves the AttnScope UI and its engine to a browser. Prints a URL with a random
token; only that URL works. Files are sent from the browser as bytes.
  --port N          port (default: a random free one)
  --host ADDR       address to bind (default 127.0.0.1)
  --allow-remote    allow a non-loopback --host (anyone with the URL can use the engine)
  --model NAME      load this built-in model in every new page
  --weights FILE    load this checkpoint in every new page
  --runtime NAME    ort | tfjs: the default runtime (a page's settings may choose the other)`;

export async function serve(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string' }, host: { type: 'string' }, 'allow-remote': { type: 'boolean' },
      model: { type: 'string' }, weights: { type: 'string' }, help: { type: 'boolean', short: 'h' }, ...RUNTIME_OPTIONS,
    },
    strict: true,
  });
  if (values.help) { console.log(SERVE_USAGE); return 0; }
  const port = values.port === undefined ? 0 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new EngineError('bad-request', `--port must be 0-65535, not ${values.port}`);
  if (values.model && values.weights) throw new EngineError('bad-request', 'Give --model or --weights, not both.');
  const host = values.host ?? '127.0.0.1';
  const runtime = parseRuntimeOptions(values, 'serve');
  const staticDir = rendererDir();
  if (!existsSync(resolve(staticDir, 'index.html'))) {
    throw new EngineError('not-found', `The UI is not built (${staticDir}/index.html is missing).`, 'Run `npm run build` first, or `npm run serve`.');
  }
  const preload = values.model ? { kind: 'builtin', name: values.model }
    : values.weights ? { kind: 'path', path: resolve(values.weights) } : undefined;
  const server = await startWebServer({
    staticDir, workerUrl: workerEntryUrl(), host, port, allowRemote: values['allow-remote'] ?? false,
    // Browsers send files as bytes; the only path the engine reads is the --weights one.
    workerData: { sources: ['builtin', 'bytes'], paths: 'none', runtime, ...(preload ? { preload } : {}) },
  });
  if (!isLoopback(host)) {
    console.warn(`WARNING: listening on ${host}, not loopback. Anyone who can reach this address and learns the URL below can use this engine. Prefer an SSH tunnel.`);
  }
  console.log(`AttnScope is serving at ${server.url}`);
  if (host === '0.0.0.0' || host === '::') console.log(`(all interfaces: open it with this machine's name or address in place of ${host})`);
  await new Promise<void>((ok) => {
    const stop = () => { void server.close().then(ok); };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return 0;
}
