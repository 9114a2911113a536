import react from '@vitejs/plugin-react';
import { defineConfig, type Plugin } from 'vite';
import { crossOriginIsolationHeaders, cspHeader, cspMeta } from './src/csp';
import { serviceWorkerPlugin } from './src/sw/buildPlugin';
import { wasmThreadsPlugin } from './src/worker/wasmThreadsPlugin';

/** The Content-Security-Policy meta tag in the built pages (not in dev: Vite's dev server injects inline scripts). */
const cspMetaTag: Plugin = {
  name: 'lors-csp-meta',
  apply: 'build',
  transformIndexHtml: () => [
    { tag: 'meta', attrs: { 'http-equiv': 'Content-Security-Policy', content: cspMeta() }, injectTo: 'head-prepend' },
  ],
};

// `vite preview` sends COOP/COEP (crossOriginIsolationHeaders): the page is cross-origin isolated and tfjs-backend-wasm
// runs its threaded build; wasmThreadsPlugin is what makes that build work in a minified worker bundle.
export default defineConfig({
  base: './',
  // sw.js: the service worker that keeps the app working offline after a first visit (src/sw/).
  plugins: [react(), cspMetaTag, serviceWorkerPlugin()],
  worker: { format: 'es', plugins: () => [wasmThreadsPlugin()] },
  // selftest.html (WebGPU vs wasm check of the building blocks) is a page of its own: the app never loads it.
  build: {
    target: 'es2022',
    chunkSizeWarningLimit: 4096,
    rollupOptions: { input: { main: 'index.html', selftest: 'selftest.html' } },
  },
  server: { port: 5173, headers: crossOriginIsolationHeaders() },
  preview: { headers: { 'Content-Security-Policy': cspHeader(), ...crossOriginIsolationHeaders() } },
});
