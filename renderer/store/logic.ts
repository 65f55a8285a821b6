// Pure helpers over the store's data: which tap to show for a module, default focus,
// stage grouping. Kept out of components so tests and keyboard handlers share them.
import type { ModelInfo, ModuleInfo, TapName } from '../../engine/protocol';
import type { FocusedTap, UserError } from './types';

/** Tap shown by default for a module: where it looks, before what it weights. */
export function primaryTap(m: Pick<ModuleInfo, 'taps'>): TapName {
  for (const t of ['spatial', 'attention', 'activation', 'channel'] as const) if (m.taps.includes(t)) return t;
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
