/**
 * Registers the app's service worker (sw.js beside index.html; built apps only: the dev server has none), so a
 * second visit works offline. A new version that was installed before this page started is waiting: the page asks
 * it at once to take over, which it does when this page is the only one of the app (src/sw/sw.ts), and then reloads
 * on the new version once, before anything is done. A version installed during this visit waits for the next start.
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
  // The registration as it is now (getRegistration waits for no update job, unlike register): only a controlled
  // page (not a first visit) asks, and the worker checks that it was installed before this page started.
  sw.getRegistration()
    .then((reg) => {
      if (reg?.waiting && sw.controller) {
        reg.waiting.postMessage({ type: 'activate-if-alone', pageStart: performance.timeOrigin });
      }
    })
    .catch(() => undefined);
  window.addEventListener('load', () => {
    sw.register(new URL('sw.js', location.href).href, { scope: './' }).catch(() => {
      /* no service worker (private mode, file:, blocked): the app works online as before */
    });
  });
}
