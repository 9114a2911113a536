/**
 * npm run encode-weights -- --weights DIR --out DIR --encoding int8|float16|float32 [--deflate] [--force]
 *
 * Re-stores a weights folder (src/model/weights/FORMAT.md) in another encoding: same config, tensors and meta (with
 * `encoding` and where it came from added), new shards and SHA-256s. int8 stores every matrix with one scale per
 * output channel and keeps vectors (biases, norms) in float16; --deflate stores each shard as raw DEFLATE. The shipped
 * decoders are `--encoding int8 --deflate`.
 */
import { resolve } from 'node:path';
import { WEIGHTS_ENCODINGS, type WeightsEncoding } from '../model/weights/encoding';
import { loadWeightArrays, saveWeights, shardBytes, shardFileBytes } from '../model/weights/io';
import { flag, requireStr, runCli, usageText, type OptionSpec, type ParsedArgs } from './args';
import { folderReader, writeWeightsFolder } from './node-io';

const SPEC: Record<string, OptionSpec> = {
  weights: { type: 'string', help: 'the weights folder to read (model.json + shards) — required' },
  out: { type: 'string', help: 'output folder (created if missing; may equal --weights with --force) — required' },
  encoding: { type: 'string', help: 'float32, float16 or int8 — required', choices: WEIGHTS_ENCODINGS },
  deflate: {
    type: 'boolean',
    help: 'store each shard as raw DEFLATE (what the app ships; lossless, about 5% smaller)',
  },
  force: { type: 'boolean', help: 'overwrite a folder that already holds a model.json' },
};
const USAGE = usageText(
  'npm run encode-weights --',
  '--weights DIR --out DIR --encoding E [--deflate] [--force]',
  SPEC,
);

/** The files of `dir`'s weights stored in `encoding` (name → bytes), and the shard bytes before and after. */
export async function encodeWeightsFolder(
  dir: string,
  encoding: WeightsEncoding,
  deflate = false,
): Promise<{ files: Map<string, Uint8Array>; before: number; after: number }> {
  const { config, arrays, manifest } = await loadWeightArrays(folderReader(dir));
  const files = await saveWeights(config, arrays, {
    encoding,
    deflate,
    meta: {
      ...manifest.meta,
      encoding: deflate ? `${encoding}, deflated shards` : encoding,
      encodedBy: 'src/cli/encode-weights.ts',
      encodedAt: new Date().toISOString(),
    },
  });
  return { files, before: shardBytes(manifest), after: shardFileBytes(files) };
}

async function main(a: ParsedArgs) {
  const dir = requireStr(a, 'weights');
  const out = requireStr(a, 'out');
  const encoding = requireStr(a, 'encoding') as WeightsEncoding;
  const { files, before, after } = await encodeWeightsFolder(dir, encoding, flag(a, 'deflate'));
  writeWeightsFolder(out, files, flag(a, 'force'));
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(2)} MiB`;
  console.log(
    `wrote ${resolve(out)} (${encoding}${flag(a, 'deflate') ? ', deflated' : ''}): shards ${mib(before)} → ${mib(after)}`,
  );
}

runCli(import.meta.url, 'encode-weights', { spec: SPEC, usage: USAGE }, main);
