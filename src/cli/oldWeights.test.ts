/**
 * Weight files written before a change keep loading and scoring as they did: the LORS decoder shipped on
 * 2026-12-01 (int8, deflated shards; test/fixtures/weights-2026-12-01) on the first 25 val photos of the shared
 * coco-subset (skipped when the data or NanoDet's model are missing). The AP was recorded with the code of that day.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runEval } from './eval';

const DATA = resolve('../shared/data/coco-subset');
const ANN = join(DATA, 'annotations/instances_val.json');
const ready = existsSync(ANN) && existsSync('public/models/nanodet/model.json');

describe.skipIf(!ready)('old weight files', () => {
  it('the LORS decoder of 2026-12-01 gives its recorded AP on 25 val photos', async () => {
    const { report } = await runEval({
      images: join(DATA, 'val'),
      annotations: ANN,
      model: 'lors',
      weights: 'test/fixtures/weights-2026-12-01/lors',
      limit: 25,
      quiet: true,
    });
    expect(report.AP).toBeCloseTo(26.194058792207336, 2);
    expect(report.AP50).toBeCloseTo(40.665253876162794, 2);
  }, 300_000);
});
