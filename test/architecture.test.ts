/**
 * The shape of src/: imports form no cycle; the model layer is pure (no page, worker, Node or test code); the
 * inference worker imports nothing of the page (state/, ui/); shipped code never imports test helpers; only the
 * variant table tells variants apart by name; the address bar is parsed in one file and written in one.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

type Graph = Map<string, string[]>;

const ROOT = resolve('src');
const EXTS = ['.ts', '.tsx'];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) return sourceFiles(p);
    return EXTS.some((e) => n.endsWith(e)) && !/\.test\.tsx?$/.test(n) ? [p] : [];
  });
}

/** Relative imports of a file (static, re-exports, dynamic and `new URL('./x.ts', import.meta.url)` workers). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [
    ...text.matchAll(/(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/g),
    ...text.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g),
    ...text.matchAll(/new URL\(\s*['"]([^'"]+)['"]\s*,\s*import\.meta\.url\s*\)/g),
  ].map((m) => m[1]!);
  return specs
    .filter((s) => s.startsWith('.'))
    .map((s) => {
      const base = resolve(dirname(file), s);
      const hit = [base, ...EXTS.map((e) => base + e), ...EXTS.map((e) => join(base, `index${e}`))].find(
        (p) => existsSync(p) && statSync(p).isFile(),
      );
      if (!hit) throw new Error(`${relative(ROOT, file)}: cannot resolve ${s}`);
      return hit;
    });
}

export function buildGraph(files: string[]): Graph {
  return new Map(files.map((f) => [f, importsOf(f).filter((t) => !/\.test\.tsx?$/.test(t))]));
}

/** One cycle of the graph (as a path a → … → a), or null. */
export function findCycle(g: Graph): string[] | null {
  const state = new Map<string, 1 | 2>();
  const stack: string[] = [];
  const visit = (n: string): string[] | null => {
    state.set(n, 1);
    stack.push(n);
    for (const m of g.get(n) ?? []) {
      if (state.get(m) === 1) return [...stack.slice(stack.indexOf(m)), m];
      if (!state.has(m)) {
        const c = visit(m);
        if (c) return c;
      }
    }
    stack.pop();
    state.set(n, 2);
    return null;
  };
  for (const n of g.keys()) {
    if (!state.has(n)) {
      const c = visit(n);
      if (c) return c;
    }
  }
  return null;
}

/** Files reachable from `from`; with `sameBundle`, not through a worker (`*.worker.ts`: a bundle of its own). */
function reachable(g: Graph, from: string, sameBundle = false): Set<string> {
  const seen = new Set<string>([from]);
  const todo = [from];
  while (todo.length) {
    for (const m of g.get(todo.pop()!) ?? []) {
      if (seen.has(m) || (sameBundle && m.endsWith('.worker.ts'))) continue;
      seen.add(m);
      todo.push(m);
    }
  }
  return seen;
}

/**
 * Checks of an architecture variant's name: a string literal 'vanilla' or 'lors' (either quote) that is an operand of
 * ===, !==, == or != or a `case` label. Only model/variants.ts, the variant table, may tell variants apart by name;
 * elsewhere code asks the table (VARIANTS[cfg.variant].generator, hasLorsParts) or the loaded model (cfg.lors).
 * The same words as data — object keys, list items, arguments, defaults, panel and folder names — are not checks.
 */
export function variantNameChecks(text: string): string[] {
  const lit = `(?:'(?:vanilla|lors)'|"(?:vanilla|lors)")`;
  const re = new RegExp(`[!=]==?\\s*${lit}|${lit}\\s*[!=]==?|\\bcase\\s+${lit}\\s*:`, 'g');
  return [...text.matchAll(re)].map((m) => m[0]);
}

const graph = buildGraph(sourceFiles(ROOT));
const rel = (p: string) => relative(ROOT, p);
const inDir = (dir: string) => (p: string) => rel(p).startsWith(`${dir}/`);

describe('src/ architecture', () => {
  it('the cycle finder finds a cycle (so the next test can fail)', () => {
    expect(
      findCycle(
        new Map([
          ['a', ['b']],
          ['b', ['c']],
          ['c', ['a']],
          ['d', ['a']],
        ]),
      ),
    ).toEqual(['a', 'b', 'c', 'a']);
    expect(
      findCycle(
        new Map([
          ['a', ['b']],
          ['b', []],
          ['c', ['a', 'b']],
        ]),
      ),
    ).toBeNull();
  });

  it('has no import cycle', () => {
    const c = findCycle(graph);
    expect(c?.map(rel) ?? null).toBeNull();
  });

  it('src/model imports nothing of the page, the worker, the CLIs or the test helpers; nn ← lors ← adamixer; nn knows no config or parameter list', () => {
    for (const [f, deps] of graph) {
      if (!inDir('model')(f)) continue;
      for (const d of deps) expect(`${rel(f)} → ${rel(d)}`).toMatch(/→ model\//);
      if (inDir('model/nn')(f))
        for (const d of deps)
          expect(`${rel(f)} → ${rel(d)}`).not.toMatch(/→ model\/((lors|adamixer)\/|(config|params)\.ts$)/);
      if (inDir('model/lors')(f))
        for (const d of deps) expect(`${rel(f)} → ${rel(d)}`).not.toMatch(/→ model\/adamixer\//);
    }
  });

  it('the inference worker reaches nothing of the page (state/, ui/, app/) and no test helper', () => {
    const worker = resolve(ROOT, 'worker/detector.worker.ts');
    for (const f of reachable(graph, worker)) expect(rel(f)).not.toMatch(/^(state|ui|app|testing|selftest|cli)\//);
  });

  it('worker replies are typed by the protocol: no caller names a reply type (request<T>)', () => {
    for (const f of graph.keys())
      expect(`${rel(f)}: ${/\.request<|request<T>/.exec(readFileSync(f, 'utf8'))}`).toMatch(/null$/);
  });

  it('settings reach the worker by one road: only app/controller.ts subscribes to the settings store', () => {
    for (const f of graph.keys()) {
      if (rel(f) === 'app/controller.ts') continue;
      expect(`${rel(f)}: ${/settingsStore\.subscribe\(/.exec(readFileSync(f, 'utf8'))}`).toMatch(/null$/);
    }
  });

  it('the variant-check finder finds checks of a variant name (so the next test can fail)', () => {
    const bad = `if (cfg.variant === 'lors') f();\nconst v = "vanilla" != x;\nswitch (v) {\n  case 'lors':\n}`;
    expect(variantNameChecks(bad)).toEqual([`=== 'lors'`, `"vanilla" !=`, `case 'lors':`]);
    const data = `const DIRS = { vanilla: 'vanilla', lors: 'lors' };\nmakeConfig('web', 'lors');\nif (model === 'nanodet') f();`;
    expect(variantNameChecks(data)).toEqual([]);
  });

  it('variant names are told apart only in the variant table (model/variants.ts)', () => {
    for (const f of graph.keys()) {
      if (rel(f) === 'model/variants.ts') continue;
      expect(`${rel(f)}: ${variantNameChecks(readFileSync(f, 'utf8')).join(', ')}`).toMatch(/: $/);
    }
  });

  it('the address bar has one reader and one writer: only state/settingsUrl.ts parses it, only app/controller.ts writes it', () => {
    for (const f of reachable(graph, resolve(ROOT, 'main.tsx'))) {
      const src = readFileSync(f, 'utf8');
      if (rel(f) !== 'state/settingsUrl.ts') expect(`${rel(f)}: ${/new URLSearchParams\(/.exec(src)}`).toMatch(/null$/);
      if (rel(f) !== 'app/controller.ts')
        expect(`${rel(f)}: ${/history\.(replaceState|pushState)\(/.exec(src)}`).toMatch(/null$/);
    }
  });

  it('the page (main.tsx) never reaches the test helpers, the self-test page or tfjs (models run in the worker)', () => {
    for (const f of reachable(graph, resolve(ROOT, 'main.tsx')))
      expect(rel(f)).not.toMatch(/^(testing|selftest|cli)\//);
    for (const f of reachable(graph, resolve(ROOT, 'main.tsx'), true)) {
      expect(
        `${rel(f)}: ${readFileSync(f, 'utf8').match(/^import (?!type)[^;]*'@tensorflow\/[^']*'/m)?.[0] ?? 'no tfjs'}`,
      ).toMatch(/no tfjs$/);
    }
  });
});
