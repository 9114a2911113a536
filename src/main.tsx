import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { controller } from './app/controller';
import { modelsStore } from './state/models';
import { sessionStore } from './state/session';
import { settingsStore } from './state/settings';
import { App, SelftestApp } from './ui/App';
import './ui/styles.css';

const selftest = new URLSearchParams(location.search).get('selftest') === '1';

// Hooks for the end-to-end tests (and curious users in the console).
Object.assign(window, {
  __lors: {
    probe: () => controller.probe(),
    settings: settingsStore,
    session: sessionStore,
    models: modelsStore,
  },
});

const root = document.getElementById('root');
if (!root) throw new Error('#root is missing from index.html');
createRoot(root).render(<StrictMode>{selftest ? <SelftestApp /> : <App />}</StrictMode>);
