import { describe, expect, it } from 'vitest';
import { WeightsError } from '../model/weights/manifest';
import { FileNotFoundError } from '../model/types';
import { DownloadError, MissingFileError } from './cachedFetch';
import { decoderFailure, relativeTo } from './downloadFailure';

const BASE = 'http://127.0.0.1:8080/app/';
const FOLDER = `${BASE}models/lors/`;

describe('decoderFailure', () => {
  it('names the file relative to the app and keeps the reason alone', () => {
    expect(
      decoderFailure(
        new DownloadError(`${FOLDER}weights-shard2of3.bin`, 'stalled', 'no data for 2 s (download stalled)'),
        BASE,
        FOLDER,
      ),
    ).toEqual({ file: 'models/lors/weights-shard2of3.bin', reason: 'no data for 2 s (download stalled)' });
    expect(decoderFailure(new MissingFileError(`${FOLDER}model.json`), BASE, FOLDER)).toEqual({
      file: 'models/lors/model.json',
      reason: 'HTTP 404 (file not found)',
    });
  });

  it("unwraps the loader's WeightsError (file relative to its folder, 'could not be read: ' dropped)", () => {
    const e = new WeightsError(
      'weights-shard1of3.bin',
      'could not be read: SHA-256 mismatch with model.json (corrupted download); not cached',
    );
    expect(decoderFailure(e, BASE, FOLDER)).toEqual({
      file: 'models/lors/weights-shard1of3.bin',
      reason: 'SHA-256 mismatch with model.json (corrupted download); not cached',
    });
  });

  it('falls back to the folder for errors that name no file', () => {
    expect(decoderFailure(new FileNotFoundError('model.json'), BASE, FOLDER)).toEqual({
      file: 'models/lors/model.json',
      reason: 'file not found',
    });
    expect(decoderFailure(new Error('out of memory'), BASE, FOLDER)).toEqual({
      file: 'models/lors/',
      reason: 'out of memory',
    });
    expect(relativeTo(BASE, 'https://elsewhere/x.bin')).toBe('https://elsewhere/x.bin');
  });
});
