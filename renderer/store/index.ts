// The one store. `createAppStore` makes a fresh one (tests make one per test); the app
// makes one in main.tsx and hands it down through StoreProvider. Components read it only
// through selectors (`useApp(s => s.x)`).
import { createContext, createElement, useContext, type ReactNode } from 'react';
import { createStore, useStore } from 'zustand';
import { useShallow } from 'zustand/react/shallow';
import { GRAY } from '../lib/colormap';
import { engineActions } from './engineActions';
import { emptyRun, initialExport, initialHub, NO_PREPROCESS, initialUi, type AppStore, type ResolvedDeps, type StoreDeps } from './base';
import { hubActions } from './hubActions';
import { loadRecent, loadSettings, type KeyValueStorage } from './persist';
import type { AppState } from './types';
import { viewActions } from './viewActions';

export { emptyRun, initialExport, initialUi, type AppStore, type GetState, type ResolvedDeps, type SetState, type StoreDeps } from './base';

function defaultDeps(deps: StoreDeps): ResolvedDeps {
  const hasBlobUrls = typeof URL !== 'undefined' && typeof URL.createObjectURL === 'function';
  let storage: KeyValueStorage | null = null;
  try { storage = typeof localStorage !== 'undefined' ? localStorage : null; } catch { storage = null; }
  return {
    storage: deps.storage === undefined ? storage : deps.storage,
    createObjectUrl: deps.createObjectUrl ?? ((bytes) => (hasBlobUrls ? URL.createObjectURL(new Blob([bytes])) : null)),
    revokeObjectUrl: deps.revokeObjectUrl ?? ((url) => { if (hasBlobUrls) URL.revokeObjectURL(url); }),
    now: deps.now ?? (() => performance.now()),
    autoLoadModel: deps.autoLoadModel ?? true,
    download: deps.download ?? ((bytes, name) => {
      if (!hasBlobUrls) return;
      const url = URL.createObjectURL(new Blob([bytes], { type: 'application/zip' }));
      const link = Object.assign(document.createElement('a'), { href: url, download: name });
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    }),
  };
}

export function createAppStore(deps: StoreDeps = {}): AppStore {
  const d = defaultDeps(deps);
  return createStore<AppState>()((set, get) => ({
    engine: {
      client: null, state: 'connecting', message: null, backend: null, runtime: null, runtimes: ['ort'], version: null,
      colormaps: [GRAY], builtinModels: [], sources: ['builtin', 'bytes'], samples: [],
    },
    images: { list: [], currentId: null },
    model: { info: null, preprocess: NO_PREPROCESS, source: null, choices: {}, status: 'none', label: null, progress: null, error: null, errorLabel: null, recent: loadRecent(d.storage) },
    run: emptyRun(),
    analysis: { baseline: {}, query: null, channel: null, camClass: null, cam: null, stageCams: {}, component: {}, queryStep: {} },
    modules: { focused: null, hidden: [], bypass: [] },
    settings: loadSettings(d.storage),
    ui: initialUi(),
    exporting: initialExport(),
    hub: initialHub(),
    metrics: { openedAt: null, firstHeatmapMs: null },
    ...engineActions(set, get, d),
    ...viewActions(set, get, d),
    ...hubActions(set, get),
  }));
}

const StoreContext = createContext<AppStore | null>(null);

export function StoreProvider({ store, children }: { store: AppStore; children: ReactNode }) {
  return createElement(StoreContext.Provider, { value: store }, children);
}

export function useAppStore(): AppStore {
  const store = useContext(StoreContext);
  if (!store) throw new Error('useApp outside <StoreProvider>');
  return store;
}

/** Select a slice of state; re-renders only when the selected value changes (Object.is). */
export function useApp<T>(selector: (s: AppState) => T): T {
  return useStore(useAppStore(), selector);
}

/** Like useApp, for selectors that build a new array/object each time (shallow compare). */
export function useAppShallow<T>(selector: (s: AppState) => T): T {
  return useStore(useAppStore(), useShallow(selector));
}

/** Actions never change identity; components take them without subscribing. */
export function useActions(): AppState {
  return useAppStore().getState();
}
