// Window-level keyboard shortcuts (listed in ShortcutSheet). Ignored while typing in a
// field, and with Ctrl/Cmd/Alt held (those belong to the OS and the Electron menu).
import { useEffect } from 'react';
import type { AppStore } from '../store';
import type { Normalisation } from '../lib/heatmap';
import type { Commands } from './useCommands';
import { TILE_SIZES } from '../store/persist';

const NORMS: Normalisation[] = ['raw', 'minmax', 'stage'];

export function handleKey(e: Pick<KeyboardEvent, 'key' | 'shiftKey' | 'ctrlKey' | 'metaKey' | 'altKey' | 'target'>, store: AppStore, cmd: Commands): boolean {
  const t = e.target as HTMLElement | null;
  // Fields keep their keys (arrows move a slider, letters pick in a select); Escape and ? still work.
  const inField = !!t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' || t.isContentEditable);
  if (inField && e.key !== 'Escape' && e.key !== '?') return false;
  if (e.ctrlKey || e.metaKey || e.altKey) return false;
  const s = store.getState();
  const modal = s.exporting.open || s.ui.shortcutsOpen || s.hub.open;
  if (e.key === 'Escape') {
    if (s.ui.shortcutsOpen) s.setShortcutsOpen(false);
    else if (s.exporting.open) s.openExport(false);
    else if (s.hub.open) s.openCatalogue(false);
    else if (s.analysis.query) s.clearQuery();
    else if (s.analysis.channel) void s.pickChannel(s.analysis.channel.module, null);
    else return false;
    return true;
  }
  if (e.key === '?') { s.setShortcutsOpen(!s.ui.shortcutsOpen); return true; }
  if (modal) return false;
  const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
  switch (key) {
    case 'o': void cmd.openImages(); return true;
    case 'm': void cmd.openModel(); return true;
    case 'i': s.openCatalogue(true); return true;
    case 'e': cmd.openExport(); return true;
    case '[': s.stepModule(-1); return true;
    case ']': s.stepModule(1); return true;
    case 'ArrowLeft': s.stepImage(-1); return true;
    case 'ArrowRight': s.stepImage(1); return true;
    case 'c': s.cycleColormap(e.shiftKey ? -1 : 1); return true;
    case '+': case '=': s.nudgeOpacity(0.1); return true;
    case '-': case '_': s.nudgeOpacity(-0.1); return true;
    case 'g': s.setSetting('layout', s.settings.layout === 'grid' ? 'single' : 'grid'); return true;
    case 'x': s.setSetting('layout', s.settings.layout === 'compare' ? 'single' : 'compare'); return true;
    case 'f': s.resetView(); return true;
    case 'n': s.setSetting('normalisation', NORMS[(NORMS.indexOf(s.settings.normalisation) + 1) % NORMS.length]!); return true;
    case 't': s.setSetting('tile', TILE_SIZES[(TILE_SIZES.indexOf(s.settings.tile) + 1) % TILE_SIZES.length]!); return true;
    case 'v': if (s.modules.focused) s.toggleVisible(s.modules.focused.module); return true;
    case 'b': if (s.modules.focused) s.toggleBypass(s.modules.focused.module); return true;
    case 'p': if (s.analysis.query?.steps) s.pickQueryStep(s.analysis.query.module, null); return true;
    default:
      if (/^[1-9]$/.test(key)) { s.focusStage(Number(key)); return true; }
      return false;
  }
}

export function useShortcuts(store: AppStore, cmd: Commands): void {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.defaultPrevented || e.repeat && !['[', ']', '+', '-', '=', 'ArrowLeft', 'ArrowRight'].includes(e.key)) return;
      if (handleKey(e, store, cmd)) e.preventDefault();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [store, cmd]);
}
