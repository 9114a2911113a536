import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// No COOP/COEP headers on purpose: under them tfjs-backend-wasm picks its threaded build, whose worker threads
// hang in a production bundle. The single-threaded SIMD build is what the app uses.
export default defineConfig({
  base: './',
  plugins: [react()],
  worker: { format: 'es' },
  // selftest.html (WebGPU vs wasm check of the building blocks) is a page of its own: the app never loads it.
  build: {
    target: 'es2022',
    chunkSizeWarningLimit: 4096,
    rollupOptions: { input: { main: 'index.html', selftest: 'selftest.html' } },
  },
  server: { port: 5173 },
});
