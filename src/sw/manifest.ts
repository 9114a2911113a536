/**
 * What one build of the app is, for its service worker (src/sw/sw.ts): every file of the app shell with its SHA-256,
 * and every weight file its model.json files list (with the SHA-256 they list). The build writes it into sw.js, so a
 * new build is a new service worker; its version is a hash of the whole manifest.
 */

export interface ShellManifest {
  /** First 16 hex digits of the SHA-256 of `files` and `shards` (names a version's shell cache). */
  version: string;
  /** Shell files, relative to the app's folder ('index.html', 'assets/…', 'models/lors/model.json', …) → SHA-256. */
  files: Record<string, string>;
  /** Weight files listed in the shipped model.json files ('models/lors/weights-shard1of2.bin') → SHA-256. */
  shards: Record<string, string>;
}

/** Which built files belong to the shell: not the self-test page, not weight files, not notes. */
export function isShellFile(path: string): boolean {
  if (/(^|\/)selftest[.-]/.test(path)) return false;
  if (path.startsWith('models/') && !path.endsWith('.json')) return false;
  return !path.endsWith('.md') && path !== 'sw.js';
}

/**
 * The manifest of a build from its files (path relative to the build folder, SHA-256 hex); `modelJson` gives a
 * model.json's text, whose `sha256` map lists its folder's weight files.
 */
export async function buildManifest(
  files: { path: string; sha256: string }[],
  modelJson: (path: string) => string,
  sha256: (text: string) => Promise<string>,
): Promise<ShellManifest> {
  const shell: Record<string, string> = {};
  const shards: Record<string, string> = {};
  for (const f of [...files].sort((a, b) => (a.path < b.path ? -1 : 1))) {
    if (!isShellFile(f.path)) continue;
    shell[f.path] = f.sha256;
    if (/^models\/[^/]+\/model\.json$/.test(f.path)) {
      const dir = f.path.slice(0, -'model.json'.length);
      const listed = (JSON.parse(modelJson(f.path)) as { sha256?: Record<string, string> }).sha256 ?? {};
      for (const [name, sha] of Object.entries(listed)) shards[`${dir}${name}`] = sha;
    }
  }
  const version = (await sha256(JSON.stringify({ files: shell, shards }))).slice(0, 16);
  return { version, files: shell, shards };
}
