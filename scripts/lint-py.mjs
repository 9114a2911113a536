// ruff (its official WebAssembly build, from npm) over the Python sources: the formatter (120 columns, single
// quotes) and the linter — pyflakes (F), pycodestyle (E, W), import order (I). Prints one line per finding
// (file:row:col code message, or "file: not formatted"); exit 1 if any.
//   node scripts/lint-py.mjs [--fix]     (--fix formats the files and applies ruff's fixes, e.g. import order)
import { PositionEncoding, Workspace } from '@astral-sh/ruff-wasm-nodejs';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOTS = ['training', 'scripts'];
const SETTINGS = {
  'line-length': 120,
  format: { 'quote-style': 'single' },
  lint: { select: ['E', 'F', 'W', 'I'], ignore: ['E731', 'E741'] },
};

const files = (dir) =>
  readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? (n === '__pycache__' ? [] : files(p)) : n.endsWith('.py') ? [p] : [];
  });

/** Applies a diagnostic's fix edits (rows 1-based, columns 1-based UTF-16) from the last to the first. */
function applyFix(text, fix) {
  const lines = text.split('\n');
  const offset = ({ row, column }) => lines.slice(0, row - 1).reduce((a, l) => a + l.length + 1, 0) + column - 1;
  const edits = [...fix.edits].sort((a, b) => offset(b.location) - offset(a.location));
  for (const e of edits)
    text = text.slice(0, offset(e.location)) + (e.content ?? '') + text.slice(offset(e.end_location));
  return text;
}

const fix = process.argv.includes('--fix');
const ws = new Workspace(SETTINGS, PositionEncoding.Utf16);
let found = 0;
for (const file of ROOTS.flatMap(files)) {
  const original = readFileSync(file, 'utf8');
  let text = fix ? ws.format(original) : original;
  let diags = ws.check(text);
  if (!fix && ws.format(text) !== text) {
    console.log(`${file}: not formatted (node scripts/lint-py.mjs --fix)`);
    found++;
  }
  if (fix) {
    for (let pass = 0; pass < 10; pass++) {
      const d = diags.find((x) => x.fix);
      if (!d) break;
      text = applyFix(text, d.fix);
      diags = ws.check(text);
    }
    text = ws.format(text);
    diags = ws.check(text);
    if (text !== original) writeFileSync(file, text);
  }
  for (const d of diags)
    console.log(`${file}:${d.start_location.row}:${d.start_location.column} ${d.code} ${d.message}`);
  found += diags.length;
}
console.log(`ruff ${Workspace.version()}: ${found} finding(s) in ${ROOTS.join(', ')}`);
process.exit(found ? 1 : 0);
