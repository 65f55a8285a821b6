// The value range a map is coloured with, per normalisation mode.
import type { ModuleInfo, TapName } from '../../engine/protocol';
import type { TapMaps } from '../store/types';
import { dataRange, unionRange, type MapData, type Normalisation, type Range } from './heatmap';

/** As engine/render.ts tapRanges, so that the view and an export of it agree. */
const RAW: Range = { min: 0, max: 1 };

/** A flat map (a bypassed gate is all 1) is shown on [0, 1], as the exporter does. */
function orUnit(r: Range): Range {
  return r.max - r.min < 1e-12 ? RAW : r;
}

/**
 * `stage` shares one range across the stage's maps of the same tap so that modules in a
 * stage can be compared by colour; a queried attention row has no peers and uses its own.
 */
export function displayRange(
  mode: Normalisation,
  tap: TapName,
  map: MapData,
  stagePeers: { modules: ModuleInfo[]; taps: TapMaps } | null,
): Range {
  // raw: sigmoid gates and softmax masks as they are, on [0, 1]; values outside clamp.
  if (mode === 'raw') return RAW;
  if (mode === 'stage' && stagePeers) {
    const maps = stagePeers.modules.map((m) => stagePeers.taps[m.name]?.[tap]).filter((x): x is MapData => !!x);
    if (maps.length > 1) return orUnit(unionRange(maps.map((m) => dataRange(m.data))));
  }
  return orUnit(dataRange(map.data));
}

export function formatValue(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e4)) return v.toExponential(2);
  return v.toFixed(a < 1 ? 3 : 2);
}
