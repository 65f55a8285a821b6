// Builds an engine core with the built-in handlers on a port: what every host calls.

import { type CoreOptions, EngineCore, type Port } from '../core';
import { registerHandlers } from '../handlers';
import { defaultProvider } from '../provider';

export function startEngine(port: Port, options: Partial<CoreOptions> = {}): EngineCore {
  const core = new EngineCore(port, { provider: options.provider ?? defaultProvider(), ...options });
  registerHandlers(core);
  return core;
}
