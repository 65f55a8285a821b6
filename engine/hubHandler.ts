// The protocol's hub requests (issue 15): `hubList` answers the catalogue with each
// model's cache state; `hubPull` downloads one into the engine's cache (engine/hub/),
// streaming `hubPullProgress`, and answers `hubPulled` with the cached folder.
// Neither touches the loaded model, so neither waits in the serial queue.
// Register with `registerHubHandlers(core)` in engine/handlers.ts.

import type { EngineCore } from './core';
import { listHubModels } from './hub/cache';
import { findHubModel } from './hub/catalogue';
import { pull } from './hub/download';
import type { HubListRequest, HubPulledReply, HubPullRequest } from './protocol';

/** Progress events at most this often (ms), plus the last one. */
const PROGRESS_INTERVAL_MS = 100;

export function registerHubHandlers(core: EngineCore): void {
  core.handle<HubListRequest>('hubList', {
    serial: false,
    async handle({ msg }) {
      return { type: 'hubModels', id: msg.id, models: listHubModels() };
    },
  });

  core.handle<HubPullRequest>('hubPull', {
    serial: false,
    async handle({ msg, send, signal }) {
      let last = 0;
      const result = await pull(msg.name, {
        signal,
        onProgress({ file, bytes, total }) {
          const now = Date.now();
          if (now - last < PROGRESS_INTERVAL_MS && bytes < total) return;
          last = now;
          send({ type: 'hubPullProgress', id: msg.id, file, bytes, total });
        },
      });
      const reply: HubPulledReply = {
        type: 'hubPulled', id: msg.id, name: findHubModel(result.repo)?.name ?? msg.name, repo: result.repo,
        fromCache: result.fromCache, sha256: result.sha256, bytes: result.bytes,
      };
      return reply;
    },
  });
}
