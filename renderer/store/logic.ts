// Pure helpers over the store's data: which tap to show for a module, default focus,
// stage grouping. Kept out of components so tests and keyboard handlers share them.
import type { ModelInfo, ModuleInfo, TapName } from '../../engine/protocol';
import type { FocusedTap, UserError } from './types';

/** Tap shown by default for a module: where it looks, before what it weights. */
export function primaryTap(m: Pick<ModuleInfo, 'taps'>): TapName {
  for (const t of ['spatial', 'attention', 'maps', 'grid', 'activation', 'channel'] as const) if (m.taps.includes(t)) return t;
  return m.taps[0] ?? 'activation';
}

/** Taps that are maps over the image (channel is a vector). */
export function spatialTaps(m: Pick<ModuleInfo, 'taps'>): TapName[] {
  return m.taps.filter((t) => t !== 'channel');
}

export function defaultFocus(info: ModelInfo): FocusedTap | null {
  const byName = new Map(info.modules.map((m) => [m.name, m]));
  const suggested = info.defaultVisible?.map((n) => byName.get(n)).find((m) => m !== undefined);
  // Without a suggestion, a deep module with a spatial map: its map is the most semantic.
  const withMap = info.modules.filter((m) => m.taps.includes('spatial') || m.taps.includes('attention'));
  const m = suggested ?? withMap[withMap.length - 1] ?? info.modules[0];
  return m ? { module: m.name, tap: primaryTap(m) } : null;
}

export interface StageGroup { stage: string; modules: ModuleInfo[] }

/** Modules grouped by stage, in forward order of first appearance. */
export function groupByStage(modules: ModuleInfo[]): StageGroup[] {
  const groups: StageGroup[] = [];
  for (const m of modules) {
    const last = groups[groups.length - 1];
    const existing = last?.stage === m.stage ? last : groups.find((g) => g.stage === m.stage);
    if (existing) existing.modules.push(m);
    else groups.push({ stage: m.stage, modules: [m] });
  }
  return groups;
}

export function toUserError(e: unknown, fallback = 'Something went wrong'): UserError {
  if (e && typeof e === 'object') {
    const o = e as Record<string, unknown>;
    const message = typeof o.message === 'string' && o.message ? o.message : fallback;
    const code = typeof o.code === 'string' ? o.code : 'internal';
    const hint = typeof o.hint === 'string' ? o.hint : undefined;
    return hint ? { code, message, hint } : { code, message };
  }
  return { code: 'internal', message: typeof e === 'string' ? e : fallback };
}

export const isCancelled = (e: unknown): boolean =>
  !!e && typeof e === 'object' && (e as { code?: unknown }).code === 'cancelled';

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

let nextId = 0;
export const newId = (prefix: string): string => `${prefix}${++nextId}`;

/** A field the user typed: its value (null: empty, the model's own), or what is wrong with it. */
export type Parsed<T> = { value: T | null } | { error: string };

/** Input size field: empty, or a whole number of pixels from 8 to 4096. */
export function parseInputSize(text: string): Parsed<number> {
  const t = text.trim();
  if (!t) return { value: null };
  const n = Number(t);
  return Number.isInteger(n) && n >= 8 && n <= 4096 ? { value: n } : { error: `Input size must be a whole number of pixels from 8 to 4096, not "${t}".` };
}

/** Mean / std field: empty, or three numbers separated by commas or spaces (std: positive). */
export function parseTriple(text: string, what: 'Mean' | 'Std'): Parsed<[number, number, number]> {
  const t = text.trim();
  if (!t) return { value: null };
  const v = t.split(/[\s,]+/).filter(Boolean).map(Number);
  if (v.length !== 3 || v.some((x) => !Number.isFinite(x))) return { error: `${what} takes three numbers (R, G, B) like 0.485, 0.456, 0.406, not "${t}".` };
  if (what === 'Std' && v.some((x) => x <= 0)) return { error: 'Std values must be positive.' };
  return { value: v as [number, number, number] };
}
