/**
 * The app's Content-Security-Policy, in one place: the build puts it in a <meta> of index.html and selftest.html
 * (vite.config.ts), `vite preview` and the e2e server send it as a header (which also covers the worker scripts: a
 * worker takes its policy from its own response, not from the page's meta).
 *
 * Everything comes from the page's own origin. 'wasm-unsafe-eval' lets tfjs-backend-wasm compile its .wasm (nothing
 * else is evaluated); images may be data: (the empty favicon) or blob: (decoded photos, exported overlays). Scripts
 * and workers may also be blob:: tfjs-wasm's threaded build starts each of its threads as a worker from a blob: URL
 * that imports the module's source from another blob: URL (it hangs without them). A blob: URL can only be made by
 * script already running in this origin, so this lets in nothing from outside; inline scripts and eval stay out.
 */
const DIRECTIVES: Record<string, string> = {
  'default-src': "'self'",
  'script-src': "'self' 'wasm-unsafe-eval' blob:",
  'worker-src': "'self' blob:",
  'connect-src': "'self'",
  'img-src': "'self' data: blob:",
  'style-src': "'self'",
  'font-src': "'self'",
  'object-src': "'none'",
  'base-uri': "'self'",
  'form-action': "'none'",
};

const join = (d: Record<string, string>) =>
  Object.entries(d)
    .map(([k, v]) => `${k} ${v}`)
    .join('; ');

/** For <meta http-equiv>: without the directives a meta policy ignores (and warns about). */
export function cspMeta(): string {
  return join(DIRECTIVES);
}

/** For the HTTP header: the meta policy plus frame-ancestors, and a report-uri when given (the e2e collects them). */
export function cspHeader(reportUri?: string): string {
  return join({ ...DIRECTIVES, 'frame-ancestors': "'none'", ...(reportUri ? { 'report-uri': reportUri } : {}) });
}

/**
 * The headers that make the page cross-origin isolated (SharedArrayBuffer, hence tfjs-backend-wasm's threaded
 * build). Every response needs them: a worker script served without COEP does not load in an isolated page.
 */
export function crossOriginIsolationHeaders(): Record<string, string> {
  return { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };
}
