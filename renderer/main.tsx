// Boot: one store, one engine client, one React root.
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { connectEngine } from './client';
import { createAppStore, StoreProvider } from './store';
import './styles.css';
import './catalogue.css';

const store = createAppStore();

// For the e2e suite and for debugging from devtools: read-only use expected.
(window as unknown as { __attnscope?: unknown }).__attnscope = { store };

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <StoreProvider store={store}>
      <App />
    </StoreProvider>
  </StrictMode>,
);

connectEngine()
  .then((client) => store.getState().attachClient(client))
  .catch((e: unknown) => {
    const err = e as { message?: string; hint?: string };
    store.setState((s) => ({
      engine: { ...s.engine, state: 'disconnected', message: [err.message ?? 'Could not connect to the engine', err.hint].filter(Boolean).join('. ') },
    }));
  });
