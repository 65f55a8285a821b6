// `--runtime`, `--backend` and `--threads`, shared by every attnscope command that runs a model.

import { BACKEND_CHOICES, type BackendChoice, isBackendChoice } from '../backend';
import { EngineError } from '../errors';
import { parseMemory } from '../memory';
import { DEFAULT_RUNTIME, DEVICE_CHOICES, type DeviceChoice, isDeviceChoice, isRuntimeName, RUNTIME_NAMES, type RuntimeName } from '../runtimes';

export const RUNTIME_OPTIONS = {
  runtime: { type: 'string' },
  backend: { type: 'string' },
  threads: { type: 'string' },
  device: { type: 'string' },
  'max-memory': { type: 'string' },
} as const;

/** The flags' help lines, the flag column `width` wide (commands align their own). */
export function runtimeUsage(width = 21, threadsDefault = 'one per core'): string {
  const rows: Array<[string, string]> = [
    ['--runtime NAME', `${RUNTIME_NAMES.join(' | ')} (default: ${DEFAULT_RUNTIME}, ONNX Runtime; tfjs has gradients)`],
    ['--backend NAME', `tfjs runtime only: ${BACKEND_CHOICES.join(' | ')} (default: the fastest that loads)`],
    ['--threads N', `ort runtime only: intra-op threads (default: ${threadsDefault})`],
    ['--device D', 'cpu | gpu | auto (default: cpu); gpu on ort: CUDA, DirectML, CoreML or WebGPU,'],
    ['', 'the first that loads; on tfjs: WebGPU (Dawn: Vulkan, Metal, Direct3D 12)'],
    ['--max-memory SIZE', 'refuse input sizes whose run would need more (e.g. 4G; default:'],
    ['', '90% of the memory available when the model loads)'],
  ];
  return rows.map(([flag, text]) => `  ${flag.padEnd(width)}${text}`).join('\n');
}

export interface RuntimeChoice {
  runtime: RuntimeName;
  backend?: BackendChoice;
  threads?: number;
  device?: DeviceChoice;
  maxMemory?: number;
}

/** Parses the runtime flags; `command` names the help to point to. */
export function parseRuntimeOptions(values: { runtime?: string; backend?: string; threads?: string; device?: string; 'max-memory'?: string }, command: string): RuntimeChoice {
  const usage = (msg: string): EngineError => new EngineError('bad-request', msg, `See \`attnscope ${command} --help\`.`);
  // --backend alone (the flag before runtimes existed) means the tfjs runtime on that backend.
  const runtime = values.runtime ?? (values.backend !== undefined ? 'tfjs' : DEFAULT_RUNTIME);
  if (!isRuntimeName(runtime)) throw usage(`--runtime must be one of ${RUNTIME_NAMES.join(', ')}, not "${runtime}".`);
  if (values.backend !== undefined) {
    if (!isBackendChoice(values.backend)) throw usage(`--backend must be one of ${BACKEND_CHOICES.join(', ')}, not "${values.backend}".`);
    if (runtime !== 'tfjs') throw usage('--backend chooses a TensorFlow.js backend: it needs --runtime tfjs.');
  }
  let threads: number | undefined;
  if (values.threads !== undefined) {
    threads = Number(values.threads);
    if (!Number.isInteger(threads) || threads < 1 || threads > 1024) throw usage(`--threads must be a whole number from 1 to 1024, not "${values.threads}".`);
    if (runtime !== 'ort') throw usage('--threads sets ONNX Runtime\'s threads: it needs --runtime ort.');
  }
  if (values.device !== undefined) {
    if (!isDeviceChoice(values.device)) throw usage(`--device must be one of ${DEVICE_CHOICES.join(', ')}, not "${values.device}".`);
    if (values.backend !== undefined) throw usage('Give --device or --backend, not both: on tfjs, --device gpu is --backend webgpu.');
  }
  let maxMemory: number | undefined;
  if (values['max-memory'] !== undefined) {
    maxMemory = parseMemory(values['max-memory']) ?? undefined;
    if (maxMemory === undefined) throw usage(`--max-memory takes a size like 4G or 512M, not "${values['max-memory']}".`);
  }
  return {
    runtime,
    ...(values.backend !== undefined ? { backend: values.backend as BackendChoice } : {}),
    ...(threads !== undefined ? { threads } : {}),
    ...(values.device !== undefined ? { device: values.device as DeviceChoice } : {}),
    ...(maxMemory !== undefined ? { maxMemory } : {}),
  };
}
