/// <reference lib="webworker" />
/**
 * The app's service worker (built to sw.js beside index.html; src/sw/buildPlugin.ts writes this build's manifest
 * into it): the app shell from this version's cache, so a second visit works offline; an update is installed whole
 * before it takes over (src/sw/shell.ts). It takes over only when no page of an older version is open: the page
 * asks it to when it starts alone (src/app/serviceWorker.ts).
 */
import type { ShellManifest } from './manifest';
import { activate, install, respond, shellPath, takeOverWhenAlone, type ShellEnv } from './shell';

declare const self: ServiceWorkerGlobalScope;

/** How long after the hand-over decision's message event ends the waiting version calls skipWaiting. */
const SKIP_WAITING_DELAY_MS = 100;

/** Replaced by the build with this build's manifest (a JSON string). */
const manifest = JSON.parse('__LORS_SHELL_MANIFEST__') as ShellManifest;

const hex = (b: ArrayBuffer) => Array.from(new Uint8Array(b), (x) => x.toString(16).padStart(2, '0')).join('');
const env: ShellEnv = {
  caches,
  fetch: (input, init) => fetch(input, init),
  sha256: async (data) => hex(await crypto.subtle.digest('SHA-256', data)),
  scope: self.registration.scope,
  now: () => Date.now(),
};

self.addEventListener('install', (e) => e.waitUntil(install(env, manifest, self.registration.active !== null)));
self.addEventListener('activate', (e) => e.waitUntil(activate(env, manifest)));

self.addEventListener('fetch', (e) => {
  if (e.request.method !== 'GET') return;
  const path = shellPath(env, manifest, e.request.url, e.request.mode === 'navigate');
  if (path !== null) e.respondWith(respond(env, manifest, path, e.request));
});

/**
 * A waiting version takes over when the page asking is the only one of this app (no older page left behind) and
 * started after this version was installed (src/sw/shell.ts, takeOverWhenAlone: it waits a while for other pages to
 * go, such as the document the asking page replaced in its tab).
 */
self.addEventListener('message', (e) => {
  const data = e.data as { type?: string; pageStart?: unknown } | null;
  if (data?.type !== 'activate-if-alone') return;
  e.waitUntil(
    (async () => {
      const asker = (e.source as Client | null)?.id;
      const pages = async () => {
        const all = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
        return all.some((c) => c.id === asker) ? all.length - 1 : null;
      };
      const sleep = (ms: number) => new Promise<void>((ok) => setTimeout(ok, ms));
      // skipWaiting once this event has ended (a timer, not awaited): called while the waiting version still handled
      // this event, it intermittently left the update waiting in Chromium (the offline e2e's update flow).
      if (await takeOverWhenAlone(env, manifest, Number(data.pageStart), pages, sleep))
        setTimeout(() => void self.skipWaiting(), SKIP_WAITING_DELAY_MS);
    })(),
  );
});
