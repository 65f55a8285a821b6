// The focused map, the range it is coloured with, and the colormap: shared by the
// overlay, the colour bar and the hover readout so that they always agree.
import { useMemo } from 'react';
import type { Colormap } from '../lib/colormap';
import type { Range } from '../lib/heatmap';
import { displayRange } from '../lib/range';
import { useApp, useAppShallow } from '../store';
import { selectColormap, selectDisplayedMap, type DisplayedMap } from '../store/selectors';

export interface Displayed { shown: DisplayedMap | null; range: Range | null; colormap: Colormap }

export function useDisplayed(): Displayed {
  const shown = useAppShallow(selectDisplayedMap);
  const colormap = useApp(selectColormap);
  const mode = useApp((s) => s.settings.normalisation);
  const taps = useApp((s) => s.run.taps);
  const modules = useApp((s) => s.model.info?.modules);
  const range = useMemo(() => {
    if (!shown) return null;
    const stage = modules?.find((m) => m.name === shown.module)?.stage;
    const peers = stage && !shown.query ? { modules: (modules ?? []).filter((m) => m.stage === stage), taps } : null;
    return displayRange(mode, shown.tap, shown.map, peers);
  }, [shown, mode, taps, modules]);
  return { shown, range, colormap };
}
