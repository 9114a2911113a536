/**
 * What the page is told when a decoder's trained weights cannot be used: the file (relative to the app, e.g.
 * models/lors/weights-shard2of3.bin) and the reason, from whatever the download or the loader threw.
 */
import { WeightsError } from '../model/weights/manifest';
import { FileNotFoundError } from '../model/types';
import { DownloadError, MissingFileError } from './cachedFetch';
import type { DecoderFailure } from './protocol';

const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** `url` relative to `base` when inside it, else the URL as is. */
export function relativeTo(base: string, url: string): string {
  return url.startsWith(base) ? url.slice(base.length) : url;
}

/**
 * The failure of loading the weights folder `folderUrl` (inside the app at `base`). WeightsError names the file
 * relative to its folder and wraps read errors as "could not be read: <reason>"; a DownloadError names the URL.
 */
export function decoderFailure(e: unknown, base: string, folderUrl: string): DecoderFailure {
  if (e instanceof DownloadError || e instanceof MissingFileError) {
    return { file: relativeTo(base, e.url), reason: e.message };
  }
  if (e instanceof WeightsError) {
    const detail = e.message.startsWith(`${e.file}: `) ? e.message.slice(e.file.length + 2) : e.message;
    return {
      file: relativeTo(base, new URL(e.file, folderUrl).href),
      reason: detail.replace(/^could not be read: /, ''),
    };
  }
  if (e instanceof FileNotFoundError)
    return { file: relativeTo(base, new URL(e.path, folderUrl).href), reason: 'file not found' };
  return { file: relativeTo(base, folderUrl), reason: errorText(e) };
}
