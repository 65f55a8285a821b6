// Layout (DESIGN.md "Layout"): top bar; left the module tree; centre the image with its
// overlay (or the grid); right channel weights and predictions; bottom the status bar.
import { useEffect } from 'react';
import { ChannelChart } from './components/ChannelChart';
import { DropZone } from './components/DropZone';
import { EmptyState } from './components/EmptyState';
import { ExportDialog } from './components/ExportDialog';
import { Filmstrip } from './components/Filmstrip';
import { CompareView } from './components/CompareView';
import { GridView } from './components/GridView';
import { InputSettings } from './components/InputSettings';
import { ImageView } from './components/ImageView';
import { ModelCatalogue } from './components/ModelCatalogue';
import { ModuleTree } from './components/ModuleTree';
import { Predictions } from './components/Predictions';
import { RuntimeSettings } from './components/RuntimeSettings';
import { ShortcutSheet } from './components/ShortcutSheet';
import { StatusBar } from './components/StatusBar';
import { AlertIcon } from './components/Icons';
import { Toast } from './components/Toast';
import { TopBar } from './components/TopBar';
import { ViewToolbar } from './components/ViewToolbar';
import { useCommands } from './hooks/useCommands';
import { useShortcuts } from './hooks/useShortcuts';
import { bridge } from './platform';
import { useApp, useAppStore } from './store';
import { selectFocusedModule } from './store/selectors';

export function App() {
  const store = useAppStore();
  const cmd = useCommands();
  useShortcuts(store, cmd);
  const theme = useApp((s) => s.settings.theme);
  const hasImage = useApp((s) => s.images.currentId !== null);
  const modelReady = useApp((s) => s.model.status === 'ready' || (s.model.status === 'loading' && s.model.info !== null));
  const engineUp = useApp((s) => s.engine.state !== 'disconnected');
  const layout = useApp((s) => s.settings.layout);
  const focused = useApp(selectFocusedModule);

  useEffect(() => {
    if (theme === 'system') delete document.documentElement.dataset.theme;
    else document.documentElement.dataset.theme = theme;
  }, [theme]);

  // Electron's application menu.
  useEffect(() => {
    const b = bridge();
    if (!b) return;
    return b.onMenuCommand((c) => {
      const s = store.getState();
      switch (c.command) {
        case 'openImage': void cmd.openChosenImages(c.files); break;
        case 'openModel': void s.loadModel({ kind: 'path', path: c.file.path }, c.file.name); break;
        case 'export': cmd.openExport(); break;
        case 'catalogue': s.openCatalogue(true); break;
        case 'colormap': s.setSetting('colormap', c.name); break;
        case 'opacity': s.nudgeOpacity(c.delta); break;
        case 'toggleOverlay': if (s.modules.focused) s.toggleVisible(s.modules.focused.module); break;
        case 'about': s.showToast(`AttnScope ${c.version}`); break;
      }
    });
  }, [store, cmd]);

  const restarting = useApp((s) => s.engine.state === 'restarting');
  const engineMessage = useApp((s) => s.engine.message);
  const showCanvas = hasImage && modelReady && engineUp;
  return (
    <div className="app">
      <TopBar />
      <aside className="sidebar" aria-label="Modules"><ModuleTree /></aside>
      <main className="main">
        {restarting && (
          <div className="engine-banner" role="status" data-testid="engine-restarting">
            <AlertIcon size={14} /> {engineMessage ?? 'The engine stopped.'} Restarting it; the model and the current image will be reloaded.
          </div>
        )}
        {showCanvas ? (
          <>
            <ViewToolbar />
            {layout === 'grid' ? <GridView /> : layout === 'compare' ? <CompareView /> : <ImageView />}
            <Filmstrip />
          </>
        ) : <EmptyState />}
      </main>
      <aside className="panel" aria-label="Details">
        <section className="section">
          <h3 className="section-title">Predictions</h3>
          <Predictions />
        </section>
        <section className="section">
          <h3 className="section-title">{focused?.taps.includes('matrix') ? 'Channel affinity' : focused?.taps.includes('maps') ? 'Components' : focused?.taps.includes('grid') ? 'Transform' : 'Channel weights'} {focused && <span className="mono" style={{ textTransform: 'none', letterSpacing: 0, fontWeight: 500 }}>{focused.name}</span>}</h3>
          <ChannelChart />
        </section>
        <section className="section">
          <h3 className="section-title">Input</h3>
          <InputSettings />
        </section>
        <section className="section" data-testid="runtime-section">
          <h3 className="section-title">Runtime</h3>
          <RuntimeSettings />
        </section>
        {focused && (
          <section className="section">
            <h3 className="section-title">Module</h3>
            <dl className="kv">
              <dt>Kind</dt><dd>{focused.kind}</dd>
              <dt>Stage</dt><dd>{focused.stage}</dd>
              <dt>{focused.kind === 'heads' ? 'Heads' : 'Channels'}</dt><dd>{focused.channels}</dd>
              <dt>Map size</dt><dd>{focused.mapSize[0]}×{focused.mapSize[1]}</dd>
              <dt>Taps</dt><dd>{focused.taps.join(', ')}</dd>
            </dl>
          </section>
        )}
      </aside>
      <StatusBar />
      <DropZone />
      <ExportDialog />
      <ModelCatalogue />
      <ShortcutSheet />
      <Toast />
    </div>
  );
}
