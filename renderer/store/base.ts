// The store's shared pieces: its dependencies, the set/get types the action slices take,
// and the initial values of the slices they reset. Its own file so that index.ts (which
// assembles the store) and the action slices import it, and not each other.
import type { StoreApi } from 'zustand';
import type { KeyValueStorage } from './persist';
import type { AppState, ExportSlice, HubSlice, Preprocess, RunSlice, UiSlice } from './types';

export interface StoreDeps {
  storage?: KeyValueStorage | null;
  /** Object URL for image bytes (null in environments without Blob URLs). */
  createObjectUrl?: (bytes: ArrayBuffer, name: string) => string | null;
  revokeObjectUrl?: (url: string) => void;
  now?: () => number;
  /** Saves bytes the engine sent back (web-mode export zip) as a browser download. */
  download?: (bytes: ArrayBuffer, name: string) => void;
  /** Load the first built-in model once connected (the app does; some tests do not). */
  autoLoadModel?: boolean;
}

export type AppStore = StoreApi<AppState>;
export type SetState = AppStore['setState'];
export type GetState = AppStore['getState'];
export type ResolvedDeps = Required<StoreDeps>;

/** The model's own preprocessing: no overrides. */
export const NO_PREPROCESS: Preprocess = { inputSize: null, mean: null, std: null };

/** RunOptions fields of the user's preprocessing (no input size for tiled runs, which run at the image's own resolution). */
export function preprocessOptions(p: Preprocess, tiled: boolean): { inputSize?: number; mean?: [number, number, number]; std?: [number, number, number] } {
  return {
    ...(p.inputSize !== null && !tiled ? { inputSize: p.inputSize } : {}),
    ...(p.mean ? { mean: p.mean } : {}),
    ...(p.std ? { std: p.std } : {}),
  };
}

export const emptyRun = (seq = 0): RunSlice => ({
  status: 'idle', seq, runId: null, imageId: null, image: null, transform: null, taps: {},
  received: 0, total: 0, tiles: null, predictions: [], bypass: [], timings: null, error: null, startedAt: null,
});

export const initialUi = (): UiSlice => ({ zoom: 1, pan: { x: 0, y: 0 }, shortcutsOpen: false, toast: null, hover: null });

export const initialExport = (): ExportSlice => ({
  open: false, kinds: ['overlay', 'heatmap'], scope: 'current', status: 'idle', progress: null, result: null, error: null,
});


export const initialHub = (): HubSlice => ({ open: false, status: 'idle', models: [], error: null, pulls: {} });
