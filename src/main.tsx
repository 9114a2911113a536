import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { controller } from './app/controller';
import { registerServiceWorker } from './app/serviceWorker';
import { modelsStore } from './state/modelStatus';
import { sessionStore } from './state/session';
import { settingsStore } from './state/settings';
import { App } from './ui/App';
import './ui/styles.css';

// Hooks for the end-to-end tests (and curious users in the console).
Object.assign(window, {
  __lors: {
    stats: () => controller.stats(),
    settings: settingsStore,
    session: sessionStore,
    models: modelsStore,
  },
});

registerServiceWorker();

const root = document.getElementById('root');
if (!root) throw new Error('#root is missing from index.html');
createRoot(root).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
