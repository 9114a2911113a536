/**
 * Registers the app's service worker (sw.js beside index.html; built apps only: the dev server has none), so a
 * second visit works offline. A new version that installed during an earlier visit is waiting: when this page is
 * the only one of the app, it asks it to take over and reloads on the new version once, before anything is done.
 */
export function registerServiceWorker(): void {
  if (!import.meta.env.PROD || !('serviceWorker' in navigator)) return;
  const sw = navigator.serviceWorker;
  let reloading = false;
  sw.addEventListener('controllerchange', () => {
    if (reloading) return;
    reloading = true;
    location.reload();
  });
  window.addEventListener('load', () => {
    sw.register(new URL('sw.js', location.href).href, { scope: './' })
      .then((reg) => {
        // No controller: a first visit, whose page the new worker does not take over.
        if (reg.waiting && sw.controller) reg.waiting.postMessage({ type: 'activate-if-alone' });
      })
      .catch(() => {
        /* no service worker (private mode, file:, blocked): the app works online as before */
      });
  });
}
