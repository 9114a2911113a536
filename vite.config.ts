import react from '@vitejs/plugin-react';
import { defineConfig, type Plugin } from 'vite';
import { cspHeader, cspMeta } from './src/csp';
import { serviceWorkerPlugin } from './src/sw/buildPlugin';

/** The Content-Security-Policy meta tag in the built pages (not in dev: Vite's dev server injects inline scripts). */
const cspMetaTag: Plugin = {
  name: 'lors-csp-meta',
  apply: 'build',
  transformIndexHtml: () => [
    { tag: 'meta', attrs: { 'http-equiv': 'Content-Security-Policy', content: cspMeta() }, injectTo: 'head-prepend' },
  ],
};

// No COOP/COEP headers on purpose: under them tfjs-backend-wasm picks its threaded build, whose worker threads
// hang in a production bundle. The single-threaded SIMD build is what the app uses.
export default defineConfig({
  base: './',
  // sw.js: the service worker that keeps the app working offline after a first visit (src/sw/).
  plugins: [react(), cspMetaTag, serviceWorkerPlugin()],
  worker: { format: 'es' },
  // selftest.html (WebGPU vs wasm check of the building blocks) is a page of its own: the app never loads it.
  build: {
    target: 'es2022',
    chunkSizeWarningLimit: 4096,
    rollupOptions: { input: { main: 'index.html', selftest: 'selftest.html' } },
  },
  server: { port: 5173 },
  preview: { headers: { 'Content-Security-Policy': cspHeader() } },
});
