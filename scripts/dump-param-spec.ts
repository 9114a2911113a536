/**
 * Writes test/fixtures/param-spec.json: the TypeScript parameterSpec (names, shapes, component, stage, role, init)
 * of several configs, so that the PyTorch mirror (training/lors_studio) can be checked against it
 * (training/tests/test_model.py). Run: npx tsx scripts/dump-param-spec.ts
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeConfig, type ConfigOverrides, type PresetName, type VariantName } from '../src/model/config';
import { countParameters, parameterSpec } from '../src/model/params';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = resolve(root, 'test/fixtures/param-spec.json');

const cases: { label: string; preset: PresetName; variant: VariantName; overrides?: ConfigOverrides }[] = [];
for (const preset of ['tiny', 'web', 'paper'] as const) {
  for (const variant of ['vanilla', 'vanilla4x32', 'lors'] as const)
    cases.push({ label: `${preset}/${variant}`, preset, variant });
}
cases.push({
  label: 'tiny/lors stages=3 groups=[1,2,3] groupsT=2 rankA=3 rankT=4',
  preset: 'tiny',
  variant: 'lors',
  overrides: { stages: 3, groups: [1, 2, 3], groupsT: 2, rankA: 3, rankT: 4 },
});
cases.push({ label: 'web/lors stages=9', preset: 'web', variant: 'lors', overrides: { stages: 9 } });
cases.push({ label: 'tiny/vanilla stages=2', preset: 'tiny', variant: 'vanilla', overrides: { stages: 2 } });

const configs = cases.map(({ label, preset, variant, overrides }) => {
  const config = makeConfig(preset, variant, overrides);
  return {
    label,
    args: { preset, variant, overrides: overrides ?? {} },
    config,
    count: countParameters(config).decoder,
    spec: parameterSpec(config),
  };
});

mkdirSync(dirname(out), { recursive: true });
// One tensor per line: small and diffable.
const lines = configs.map((c) => {
  const head = JSON.stringify({ label: c.label, args: c.args, config: c.config, count: c.count });
  return `${head.slice(0, -1)},"spec":[\n${c.spec.map((t) => JSON.stringify(t)).join(',\n')}\n]}`;
});
writeFileSync(out, `{"generatedBy":"scripts/dump-param-spec.ts","configs":[\n${lines.join(',\n')}\n]}\n`);
console.log(`wrote ${out}: ${configs.length} configs, ${configs.reduce((a, c) => a + c.spec.length, 0)} tensors`);
