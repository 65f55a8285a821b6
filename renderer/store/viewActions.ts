// Actions that change only what is shown: focus, visibility, view settings, zoom, dialogs.
import type { GetState, ResolvedDeps, SetState } from './base';
import { initialUi } from './base';
import { groupByStage, primaryTap } from './logic';
import { saveSettings } from './persist';
import type { AppActions, AppState } from './types';

type ViewActionKeys =
  | 'focus' | 'stepModule' | 'focusStage' | 'toggleVisible' | 'setAllVisible' | 'setSetting'
  | 'cycleColormap' | 'nudgeOpacity' | 'setView' | 'resetView' | 'setHover' | 'setShortcutsOpen'
  | 'showToast' | 'dismissToast' | 'openExport' | 'setExport' | 'pickComponent' | 'pickQueryStep';

export function viewActions(set: SetState, get: GetState, d: ResolvedDeps): Pick<AppActions, ViewActionKeys> {
  const patch = <K extends keyof AppState>(key: K, value: Partial<AppState[K]>) =>
    set((s) => ({ [key]: { ...(s[key] as object), ...(value as object) } }) as Partial<AppState>);
  let toastTimer: ReturnType<typeof setTimeout> | null = null;

  const modulesInfo = () => get().model.info?.modules ?? [];
  const visibleModules = () => modulesInfo().filter((m) => !get().modules.hidden.includes(m.name));

  return {
    pickQueryStep(module, index) {
      const q = get().analysis.query;
      const count = q && q.module === module ? (q.steps?.length ?? 0) : 0;
      if (!count) return;
      const current = Math.min(count, get().analysis.queryStep[module] ?? count);
      const next = index === null ? (current + 1) % (count + 1) : Math.max(0, Math.min(count, index));
      set((s) => ({ analysis: { ...s.analysis, queryStep: { ...s.analysis.queryStep, [module]: next } } }));
    },
    pickComponent(module, tap, index) {
      set((s) => ({ analysis: { ...s.analysis, component: { ...s.analysis.component, [module]: index } } }));
      get().focus(module, tap);
    },
    focus(module, tap) {
      const m = modulesInfo().find((x) => x.name === module);
      if (!m) return;
      const t = tap && m.taps.includes(tap) ? tap : primaryTap(m);
      const prev = get().modules.focused;
      patch('modules', { focused: { module, tap: t } });
      const { hidden } = get().modules;
      if (hidden.includes(module)) patch('modules', { hidden: hidden.filter((h) => h !== module) });
      if (prev?.module !== module) {
        const { channel } = get().analysis;
        if (channel && channel.module !== module) set((s) => ({ analysis: { ...s.analysis, channel: null } }));
      }
    },

    stepModule(delta) {
      const list = visibleModules();
      if (list.length === 0) return;
      const focused = get().modules.focused;
      const i = list.findIndex((m) => m.name === focused?.module);
      const next = list[i < 0 ? (delta > 0 ? 0 : list.length - 1) : (i + delta + list.length) % list.length]!;
      // Keep the kind of tap the user is looking at when the next module has it.
      get().focus(next.name, focused && next.taps.includes(focused.tap) ? focused.tap : undefined);
    },

    focusStage(index) {
      const group = groupByStage(modulesInfo())[index - 1];
      if (!group) return;
      const m = group.modules.find((x) => !get().modules.hidden.includes(x.name)) ?? group.modules[0];
      if (m) get().focus(m.name);
    },

    toggleVisible(module) {
      const { hidden } = get().modules;
      patch('modules', { hidden: hidden.includes(module) ? hidden.filter((h) => h !== module) : [...hidden, module] });
    },

    setAllVisible(visible) {
      patch('modules', { hidden: visible ? [] : modulesInfo().map((m) => m.name) });
    },

    setSetting(key, value) {
      patch('settings', { [key]: value } as Partial<AppState['settings']>);
      saveSettings(d.storage, get().settings);
      if (key === 'resize' || key === 'tile') void get().runCurrent();
      if ((key === 'layout' && value === 'compare') || key === 'camMethod' || key === 'camStage') void get().requestCam();
      if ((key === 'layout' && value === 'grid') || (key === 'camMethod' && get().settings.layout === 'grid')) void get().requestStageCams();
      // Another runtime: the model (loaded or loading) is loaded again on it, then the image re-runs.
      // Another device: the model loads again there (ort: its GPU providers; tfjs: WebGPU).
      if (key === 'device' && get().model.info) void get().reloadModel();
      if (key === 'runtime') {
        const { status, info } = get().model;
        if (status === 'loading' || (info && info.runtime?.runtime !== value)) void get().reloadModel();
      }
    },

    cycleColormap(delta = 1) {
      const maps = get().engine.colormaps;
      if (maps.length === 0) return;
      const i = maps.findIndex((m) => m.name === get().settings.colormap);
      const next = maps[(i + delta + maps.length) % maps.length]!;
      get().setSetting('colormap', next.name);
    },

    nudgeOpacity(delta) {
      const v = Math.round(Math.min(1, Math.max(0, get().settings.opacity + delta)) * 100) / 100;
      get().setSetting('opacity', v);
    },

    setView(zoom, pan) {
      patch('ui', { zoom: Math.min(32, Math.max(0.1, zoom)), pan });
    },

    resetView() {
      const ui = initialUi();
      patch('ui', { zoom: ui.zoom, pan: ui.pan });
    },

    setHover(hover) {
      patch('ui', { hover });
    },

    setShortcutsOpen(open) {
      patch('ui', { shortcutsOpen: open });
    },

    showToast(text, kind = 'info') {
      patch('ui', { toast: { text, kind } });
      if (toastTimer) clearTimeout(toastTimer);
      toastTimer = setTimeout(() => patch('ui', { toast: null }), kind === 'error' ? 8000 : 3500);
    },

    dismissToast() {
      patch('ui', { toast: null });
    },

    openExport(open) {
      patch('exporting', open ? { open, status: 'idle', result: null, error: null } : { open });
    },

    setExport(p) {
      patch('exporting', p);
    },
  };
}
