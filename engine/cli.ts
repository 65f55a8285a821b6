// The `attnscope` command: a subcommand dispatcher. Each subcommand lives in engine/cli/
// and is registered with one line in COMMANDS; it is loaded only when it runs, so one
// subcommand's dependencies never slow down or break another.

import { EngineError } from './errors';

export interface Subcommand {
  /** One line for `attnscope --help`. */
  summary: string;
  /** Parses its own arguments (including --help) and returns the exit code. */
  load(): Promise<(argv: string[]) => Promise<number>>;
}

export const COMMANDS: Record<string, Subcommand> = {
  export: { summary: 'batch-export heatmaps, overlays, grids and raw maps of images or folders', load: async () => (await import('./cli/export')).exportCommand },
  cam: { summary: 'class evidence (CAM, Grad-CAM, Grad-CAM++, Score-CAM, Eigen-CAM, Layer-CAM) of one image as .npy + PNG', load: async () => (await import('./cli/cam')).cam },
  graph: { summary: 'write the model\'s attention graph as an ONNX file (taps as outputs, bypass inputs)', load: async () => (await import('./cli/graph')).graph },
  maps: { summary: 'write every attention map of one image as .npy + maps.json', load: async () => (await import('./cli/maps')).maps },
  models: { summary: 'list the ImageNet attention networks (timm) and download one into the cache', load: async () => (await import('./cli/models')).models },
  serve: { summary: 'serve the UI and engine to a browser (web mode)', load: async () => (await import('./cli/serve')).serve },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `Usage: attnscope <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nRun \`attnscope <command> --help\` for a command's options.`;
}

/** Runs the command line; returns the process exit code (0 ok, 1 failure, 2 usage error). */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(`attnscope: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  try {
    const run = await command.load();
    return await run(rest);
  } catch (err) {
    return report(err);
  }
}

function report(err: unknown): number {
  if (err instanceof EngineError) {
    console.error(`attnscope: ${err.message}${err.hint ? `\n  ${err.hint}` : ''}`);
    return err.code === 'bad-request' ? 2 : 1;
  }
  // node:util parseArgs: unknown or malformed options.
  const code = (err as { code?: string }).code;
  if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
    console.error(`attnscope: ${(err as Error).message}`);
    return 2;
  }
  console.error(`attnscope: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  return 1;
}
