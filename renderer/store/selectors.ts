// Selectors shared by components and tests. Derived data that allocates (ranges, lists)
// is memoised in the components that use it, not here.
import type { ModuleInfo, Prediction, TapName } from '../../engine/protocol';
import { findColormap, type Colormap } from '../lib/colormap';
import type { MapData } from '../lib/heatmap';
import type { AppState, ImageEntry } from './types';

export const selectCurrentImage = (s: AppState): ImageEntry | null =>
  s.images.list.find((i) => i.id === s.images.currentId) ?? null;

export const selectModules = (s: AppState): ModuleInfo[] => s.model.info?.modules ?? [];

export const selectFocusedModule = (s: AppState): ModuleInfo | null =>
  s.model.info?.modules.find((m) => m.name === s.modules.focused?.module) ?? null;

export const selectColormap = (s: AppState): Colormap => findColormap(s.engine.colormaps, s.settings.colormap);

export const selectIsVisible = (name: string) => (s: AppState): boolean => !s.modules.hidden.includes(name);

export const selectTap = (module: string, tap: TapName) => (s: AppState): MapData | null =>
  s.run.taps[module]?.[tap] ?? null;

export interface DisplayedMap {
  module: string;
  tap: TapName;
  map: MapData;
  /** What the map is, for the caption. */
  label: string;
  /** Non-local: the query this row answers. */
  query: { x: number; y: number } | null;
}

/**
 * The map the centre view paints for the focused tap: spatial gates as they are; for a
 * non-local module the queried row when there is one, else the summary map; for the
 * channel tap, the picked channel's own map when the engine sent it, else the module's
 * activation map.
 */
export function selectDisplayedMap(s: AppState): DisplayedMap | null {
  const f = s.modules.focused;
  if (!f || s.modules.hidden.includes(f.module)) return null;
  const taps = s.run.taps[f.module];
  if (!taps) return null;
  if (f.tap === 'attention') {
    const q = s.analysis.query;
    if (q && q.module === f.module && q.runId === s.run.runId && q.map) {
      const from = `from (${Math.round(q.point.x)}, ${Math.round(q.point.y)})`;
      const step = q.steps?.[s.analysis.queryStep[f.module] ?? q.steps.length];
      if (step) return { module: f.module, tap: f.tap, map: step.map, label: `${step.label}, ${from}`, query: q.point };
      return { module: f.module, tap: f.tap, map: q.map, label: q.steps ? `${q.label ?? 'attention'}, ${from}` : `attention ${from}`, query: q.point };
    }
    return taps.attention ? { module: f.module, tap: f.tap, map: taps.attention, label: 'attention received (mean over queries)', query: null } : null;
  }
  if (f.tap === 'maps' || f.tap === 'weights') {
    // One of K components [K, H, W]: the picked one (components grid), else the first.
    const all = taps[f.tap];
    if (!all) return null;
    const [k] = all.shape as [number];
    const i = Math.min(k - 1, Math.max(0, s.analysis.component[f.module] ?? 0));
    const map = componentMap(all, i);
    const bucket = s.model.info?.modules.find((m) => m.name === f.module)?.kind === 'nlsa';
    const what = bucket ? 'round-1 hash bucket' : f.tap === 'maps' ? 'component' : 'weight on component';
    return { module: f.module, tap: f.tap, map, label: `${what} ${i + 1} of ${k}`, query: null };
  }
  if (f.tap === 'grid' || f.tap === 'affine') {
    // A spatial transformer's grid is drawn over the photo (GridOverlay), above its input map.
    return taps.activation ? { module: f.module, tap: 'activation', map: taps.activation, label: 'sampling grid (dot: the output\'s top-left) over the input map', query: null } : null;
  }
  if (f.tap === 'matrix') {
    // A [C, C] matrix is not a map over the image: it is drawn in the side panel.
    return taps.activation ? { module: f.module, tap: 'activation', map: taps.activation, label: 'activation (its channel affinity is in the side panel)', query: null } : null;
  }
  if (f.tap === 'channel') {
    const c = s.analysis.channel;
    if (c && c.module === f.module && c.map) return { module: f.module, tap: f.tap, map: c.map, label: `channel ${c.channel} activation`, query: null };
    return taps.activation ? { module: f.module, tap: 'activation', map: taps.activation, label: c ? `activation (channel ${c.channel} map not available)` : 'activation', query: null } : null;
  }
  const map = taps[f.tap];
  if (!map) return null;
  const info = s.model.info?.modules.find((m) => m.name === f.module);
  const spatialLabel = info?.derived ? 'attention rollout (class token)' : info?.parts?.includes('spatial-softmax') ? 'context softmax' : info?.parts?.includes('gate') ? 'gate (mean over channels)' : 'spatial gate';
  const label = f.tap === 'spatial' ? spatialLabel : f.tap === 'warped' ? 'the map resampled on the grid (channel mean): what the next layer sees' : f.tap;
  return { module: f.module, tap: f.tap, map, label, query: null };
}

const components = new WeakMap<Float32Array, MapData[]>();

/** Component `i` [H, W] of a [K, H, W] tap; the same object every time (selectors compare by identity). */
export function componentMap(all: MapData, i: number): MapData {
  const [k, h, w] = all.shape as [number, number, number];
  let list = components.get(all.data);
  if (!list) components.set(all.data, (list = Array.from({ length: k }, (_, j) => ({ shape: [h, w], data: all.data.subarray(j * h * w, (j + 1) * h * w) }))));
  return list[i] as MapData;
}

/** The map a grid thumbnail shows for a module. */
export function thumbnailMap(s: AppState, m: ModuleInfo): { tap: TapName; map: MapData } | null {
  const taps = s.run.taps[m.name];
  if (!taps) return null;
  for (const t of ['spatial', 'attention', 'warped', 'activation'] as const) {
    const map = taps[t];
    if (map) return { tap: t, map };
  }
  return null;
}

export interface PredictionDelta { label: string; probability: number; before: number | null; rankBefore: number | null }

/** Top-5 now, against the same image without bypass (null when nothing is bypassed or no baseline). */
export function predictionDeltas(predictions: Prediction[], bypass: string[], base: Prediction[] | undefined): PredictionDelta[] | null {
  if (bypass.length === 0 || !base) return null;
  return predictions.map((p) => {
    const i = base.findIndex((b) => b.index === p.index);
    return { label: p.label, probability: p.probability, before: i >= 0 ? base[i]!.probability : null, rankBefore: i >= 0 ? i + 1 : null };
  });
}
