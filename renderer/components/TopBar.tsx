import { useCommands } from '../hooks/useCommands';
import { useActions, useApp } from '../store';
import type { Theme } from '../store/types';
import { AutoThemeIcon, ExportIcon, HelpIcon, ImageIcon, Logo, MoonIcon, SunIcon } from './Icons';
import { ModelPicker } from './ModelPicker';

const NEXT_THEME: Record<Theme, Theme> = { system: 'dark', dark: 'light', light: 'system' };

export function TopBar() {
  const a = useActions();
  const cmd = useCommands();
  const theme = useApp((s) => s.settings.theme);
  const canExport = useApp((s) => s.images.currentId !== null && s.model.info !== null);
  return (
    <header className="topbar">
      <div className="brand"><Logo size={18} /> AttnScope</div>
      <ModelPicker />
      <button className="btn" onClick={() => void cmd.openImages()} title="Open images (O)"><ImageIcon /> Open image</button>
      <span className="spacer" />
      <button className="btn" onClick={() => cmd.openExport()} disabled={!canExport} title="Export heatmaps (E)" data-testid="export-button"><ExportIcon /> Export</button>
      <span className="sep" />
      <button className="btn ghost icon" title={`Theme: ${theme} (click to change)`} aria-label={`Theme: ${theme}`} onClick={() => a.setSetting('theme', NEXT_THEME[theme])}>
        {theme === 'system' ? <AutoThemeIcon /> : theme === 'dark' ? <MoonIcon /> : <SunIcon />}
      </button>
      <button className="btn ghost icon" title="Keyboard shortcuts (?)" aria-label="Keyboard shortcuts" onClick={() => a.setShortcutsOpen(true)}><HelpIcon /></button>
    </header>
  );
}
