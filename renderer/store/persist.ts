// View settings and recent models survive restarts (localStorage). What is read back is
// validated field by field: a stale or hand-edited entry falls back to the defaults.
import type { CamMethod, RuntimeName } from '../../engine/protocol';
import type { RecentModel, Settings } from './types';

export type KeyValueStorage = Pick<Storage, 'getItem' | 'setItem'>;

const SETTINGS_KEY = 'attnscope.settings.v1';
const RECENT_KEY = 'attnscope.recentModels.v1';
export const MAX_RECENT = 6;
/** The runtimes the renderer knows (engine/types.ts RUNTIME_NAMES: renderer/ imports only types from engine/). */
export const RUNTIMES: readonly RuntimeName[] = ['ort', 'tfjs'];

export const DEFAULT_SETTINGS: Settings = {
  colormap: 'viridis',
  opacity: 0.6,
  normalisation: 'minmax',
  interpolation: 'bilinear',
  theme: 'system',
  showColorbar: true,
  layout: 'single',
  resize: 'stretch',
  tile: 0,
  camMethod: 'gradcam',
  camStage: 4,
  runtime: 'ort',
  device: 'cpu',
};
/** Class-evidence methods (engine/cam.ts CAM_METHODS; renderer/ imports only types from engine/). */
export const CAM_METHODS: readonly CamMethod[] = ['cam', 'gradcam', 'gradcam++', 'scorecam', 'eigencam', 'layercam', 'dcn'];
export const CAM_LABELS: Record<CamMethod, string> = {
  cam: 'CAM', gradcam: 'Grad-CAM', 'gradcam++': 'Grad-CAM++', scorecam: 'Score-CAM', eigencam: 'Eigen-CAM', layercam: 'Layer-CAM', dcn: 'DCN saliency',
};
/** Tile sizes the UI offers (0: off); multiples of 32, so they fit every ResNet's coarsest map. */
export const TILE_SIZES: readonly number[] = [0, 256, 512, 1024];

const oneOf = <T extends string>(v: unknown, options: readonly T[], fallback: T): T =>
  typeof v === 'string' && (options as readonly string[]).includes(v) ? (v as T) : fallback;

export function loadSettings(storage: KeyValueStorage | null): Settings {
  const d = DEFAULT_SETTINGS;
  let raw: Record<string, unknown> = {};
  try {
    const text = storage?.getItem(SETTINGS_KEY);
    const parsed: unknown = text ? JSON.parse(text) : {};
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) raw = parsed as Record<string, unknown>;
  } catch { /* corrupt entry: defaults */ }
  const opacity = typeof raw.opacity === 'number' && Number.isFinite(raw.opacity) ? Math.min(1, Math.max(0, raw.opacity)) : d.opacity;
  return {
    colormap: typeof raw.colormap === 'string' && raw.colormap.length < 64 ? raw.colormap : d.colormap,
    opacity,
    normalisation: oneOf(raw.normalisation, ['raw', 'minmax', 'stage'] as const, d.normalisation),
    interpolation: oneOf(raw.interpolation, ['bilinear', 'nearest'] as const, d.interpolation),
    theme: oneOf(raw.theme, ['system', 'light', 'dark'] as const, d.theme),
    showColorbar: typeof raw.showColorbar === 'boolean' ? raw.showColorbar : d.showColorbar,
    layout: oneOf(raw.layout, ['single', 'grid', 'compare'] as const, d.layout),
    camMethod: oneOf(raw.camMethod, CAM_METHODS, d.camMethod),
    camStage: typeof raw.camStage === 'number' && [1, 2, 3, 4].includes(raw.camStage) ? raw.camStage : d.camStage,
    resize: oneOf(raw.resize, ['stretch', 'pad', 'center-crop'] as const, d.resize),
    tile: typeof raw.tile === 'number' && TILE_SIZES.includes(raw.tile) ? raw.tile : d.tile,
    runtime: oneOf(raw.runtime, RUNTIMES, d.runtime),
    device: oneOf(raw.device, ['cpu', 'gpu', 'auto'] as const, d.device),
  };
}

export function saveSettings(storage: KeyValueStorage | null, settings: Settings): void {
  try { storage?.setItem(SETTINGS_KEY, JSON.stringify(settings)); } catch { /* quota or disabled storage */ }
}

export function loadRecent(storage: KeyValueStorage | null): RecentModel[] {
  try {
    const parsed: unknown = JSON.parse(storage?.getItem(RECENT_KEY) ?? '[]');
    if (!Array.isArray(parsed)) return [];
    return parsed.filter((r): r is RecentModel => {
      if (!r || typeof r !== 'object') return false;
      const { label, source } = r as Record<string, unknown>;
      if (typeof label !== 'string' || !source || typeof source !== 'object') return false;
      const s = source as Record<string, unknown>;
      return ((s.kind === 'builtin' || s.kind === 'hub') && typeof s.name === 'string') || (s.kind === 'path' && typeof s.path === 'string');
    }).slice(0, MAX_RECENT);
  } catch {
    return [];
  }
}

export function saveRecent(storage: KeyValueStorage | null, recent: RecentModel[]): void {
  try { storage?.setItem(RECENT_KEY, JSON.stringify(recent)); } catch { /* ignore */ }
}

export function pushRecent(recent: RecentModel[], entry: RecentModel): RecentModel[] {
  const key = (r: RecentModel) => (r.source.kind === 'path' ? `p:${r.source.path}` : `${r.source.kind === 'hub' ? 'h' : 'b'}:${r.source.name}`);
  return [entry, ...recent.filter((r) => key(r) !== key(entry))].slice(0, MAX_RECENT);
}
