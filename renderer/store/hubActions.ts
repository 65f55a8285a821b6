// The Models dialog's actions (issue 15): the hub catalogue from the engine (`hubList`),
// a download into the engine's cache (`hubPull`, streaming `hubPullProgress`; a cancel stops
// it and the next pull resumes), then an ordinary model load of ModelSource
// `{ kind: 'hub', name }`, so the picker shows it loading and Recent keeps it. No cache
// path ever reaches the page.
import type { HubModelsReply, HubPulledReply } from '../../engine/protocol';
import type { GetState, SetState } from './base';
import { isCancelled, toUserError } from './logic';
import type { AppActions, HubPull, HubSlice } from './types';

type HubActionKeys = 'openCatalogue' | 'refreshCatalogue' | 'pullHubModel' | 'cancelHubPull' | 'openHubModel';

export function hubActions(set: SetState, get: GetState): Pick<AppActions, HubActionKeys> {
  const patchHub = (value: Partial<HubSlice>) => set((s) => ({ hub: { ...s.hub, ...value } }));
  const setPull = (name: string, pull: HubPull | null) => set((s) => {
    const pulls = { ...s.hub.pulls };
    if (pull) pulls[name] = pull; else delete pulls[name];
    return { hub: { ...s.hub, pulls } };
  });
  const patchPull = (name: string, value: Partial<HubPull>) => {
    const cur = get().hub.pulls[name];
    if (cur) setPull(name, { ...cur, ...value });
  };

  /** The download of each model in flight. */
  const controllers = new Map<string, AbortController>();
  /** The model the user asked for last: only its download loads when it is done. */
  let lastAsked: string | null = null;
  let listSeq = 0;

  /** Loads a model that is in the cache; the pull entry (if any) says 'loading' meanwhile and goes when it has loaded. */
  const load = async (name: string): Promise<void> => {
    if (get().hub.pulls[name]) patchPull(name, { status: 'loading', error: null });
    await get().loadModel({ kind: 'hub', name }, name);
    const { model } = get();
    if (model.source?.kind === 'hub' && model.source.name === name) setPull(name, null);
    else if (model.errorLabel === name && model.error) patchPull(name, { status: 'error', error: model.error });
    else setPull(name, null); // a newer load superseded it; the model stays in the cache
  };

  return {
    openCatalogue(open) {
      patchHub({ open });
      if (open) void get().refreshCatalogue();
    },

    async refreshCatalogue() {
      const client = get().engine.client;
      if (!client) { patchHub({ status: 'error', error: { code: 'disconnected', message: 'The engine is not connected.' } }); return; }
      const seq = ++listSeq;
      patchHub({ status: 'loading', error: null });
      try {
        const reply = await client.request<HubModelsReply>({ type: 'hubList' });
        if (seq !== listSeq) return;
        patchHub({ status: 'ready', models: reply.models, error: null });
      } catch (e) {
        if (seq !== listSeq) return;
        patchHub({ status: 'error', error: toUserError(e, 'Could not list the models') });
      }
    },

    async pullHubModel(name) {
      const client = get().engine.client;
      if (!client || controllers.has(name)) return;
      lastAsked = name;
      const previous = get().hub.pulls[name];
      // A resumed download starts from what arrived before (the engine reports it again).
      setPull(name, { status: 'downloading', file: previous?.file ?? null, bytes: previous?.bytes ?? 0, total: previous?.total ?? 0, error: null });
      const abort = new AbortController();
      controllers.set(name, abort);
      let reply: HubPulledReply;
      try {
        reply = await client.request<HubPulledReply>({ type: 'hubPull', name }, {
          signal: abort.signal,
          onEvent: (ev) => {
            if (ev.type === 'hubPullProgress') patchPull(name, { file: ev.file, bytes: ev.bytes, total: ev.total });
          },
        });
      } catch (e) {
        if (isCancelled(e)) patchPull(name, { status: 'cancelled' });
        else patchPull(name, { status: 'error', error: toUserError(e, `Could not download ${name}`) });
        return;
      } finally {
        controllers.delete(name);
      }
      set((s) => ({
        hub: { ...s.hub, models: s.hub.models.map((m) => (m.name === reply.name || m.name === name ? { ...m, cached: true, bytes: reply.bytes, bytesEstimated: false } : m)) },
      }));
      if (lastAsked !== name) { setPull(name, null); return; }
      // The dialog gives way to the picker, which shows the load, unless other downloads are still running.
      if (controllers.size === 0) patchHub({ open: false });
      await load(name);
    },

    cancelHubPull(name) {
      controllers.get(name)?.abort();
    },

    async openHubModel(name) {
      lastAsked = name;
      patchHub({ open: false }); // downloads still running go on; the dialog shows them when opened again
      await load(name);
    },
  };
}
