/**
 * The Cache API cache that holds verified model files (src/worker/cachedFetch.ts writes and reads it; the service
 * worker fills it ahead of an update and prunes what the current version no longer lists), and its keys.
 */
export const CACHE_NAME = 'lors-studio-models-v1';

/** The key of a weight file listed with its SHA-256 in model.json: a retrained file never meets an old copy. */
export const shardCacheKey = (url: string, sha256: string): string => `${url}?sha256=${sha256}`;
