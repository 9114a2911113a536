"""The package's imports run one way (boxes ← matching ← losses ← train; evaluate ← train, compress; …): every
module of training/lors_studio is parsed with `ast`, each import of a package module (at module level or inside a
function alike) is an edge, and a cycle fails. Package imports must also sit at module level (visible at the top),
and no module uses another's private (`_name`) helpers, imported or as an attribute of an imported module. Only the
variant table (config.py VARIANTS) tells architecture variants apart by name."""

from __future__ import annotations

import ast
import os
import tempfile
import unittest
from typing import Dict, List, Optional, Set

PKG = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'lors_studio')
NAME = 'training.lors_studio'


def package_imports(path: str, modules: Set[str]) -> Dict[str, List[int]]:
    """{imported package module: [line numbers]} of one file (relative and absolute imports, at any depth)."""
    out: Dict[str, List[int]] = {}
    for node in ast.walk(ast.parse(open(path, encoding='utf-8').read(), path)):
        names: List[str] = []
        if isinstance(node, ast.ImportFrom) and (node.level > 0 or (node.module or '').startswith(NAME)):
            base = (node.module or '')[len(NAME) + 1 :] if node.level == 0 else (node.module or '')
            names = [base] if base else [a.name for a in node.names]  # `from . import data`
        elif isinstance(node, ast.Import):
            names = [a.name[len(NAME) + 1 :] for a in node.names if a.name.startswith(NAME + '.')]
        for n in (n for n in names if n in modules):
            out.setdefault(n, []).append(node.lineno)
    return out


def private_uses(path: str, modules: Set[str]) -> List[str]:
    """`module._name` uses of another package module's private names in one file: `from .m import _f` and `M._f`
    where M is an imported package module (`from . import m as M`, `import training.lors_studio.m as M`)."""
    with open(path, encoding='utf-8') as f:
        tree = ast.parse(f.read(), path)
    aliases: Dict[str, str] = {}
    out: List[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.level > 0 or (node.module or '').startswith(NAME)):
            base = (node.module or '')[len(NAME) + 1 :] if node.level == 0 else (node.module or '')
            for a in node.names:
                if not base and a.name in modules:  # `from . import data as D`
                    aliases[a.asname or a.name] = a.name
                elif base and a.name.startswith('_'):
                    out.append(f'{base}.{a.name} (line {node.lineno})')
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith(NAME + '.') and a.asname:
                    aliases[a.asname] = a.name[len(NAME) + 1 :]
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
            if node.attr.startswith('_') and not node.attr.startswith('__'):
                out.append(f'{aliases[node.value.id]}.{node.attr} (line {node.lineno})')
    return out


VARIANT_NAMES = {'vanilla', 'lors'}


def variant_name_checks(source: str) -> List[int]:
    """Lines that check a variant by name: 'vanilla' or 'lors' compared with ==, !=, is, is not, a collection of
    them that a value is tested `in`, or a `case` pattern. The same words as data (dict keys, arguments, a key
    looked up with `'vanilla' in ref`) are not checks; elsewhere code asks config.VARIANTS or the config (cfg.lors)."""

    def named(n: ast.AST) -> bool:
        return isinstance(n, ast.Constant) and n.value in VARIANT_NAMES

    out: List[int] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            for op, a, b in zip(node.ops, sides, sides[1:]):
                if isinstance(op, (ast.Eq, ast.NotEq, ast.Is, ast.IsNot)) and (named(a) or named(b)):
                    out.append(node.lineno)
                elif isinstance(op, (ast.In, ast.NotIn)) and isinstance(b, (ast.Tuple, ast.List, ast.Set)):
                    out += [node.lineno] if any(named(e) for e in b.elts) else []
        elif isinstance(node, ast.MatchValue) and named(node.value):
            out.append(node.lineno)
    return sorted(set(out))


def find_cycle(graph: Dict[str, Set[str]]) -> Optional[List[str]]:
    """A cycle [a, b, …, a] of a directed graph, or None (depth-first search; 1 = on the stack, 2 = done)."""
    state: Dict[str, int] = {}
    stack: List[str] = []

    def visit(u: str) -> Optional[List[str]]:
        state[u] = 1
        stack.append(u)
        for v in sorted(graph.get(u, ())):
            found = stack[stack.index(v) :] + [v] if state.get(v) == 1 else None if v in state else visit(v)
            if found:
                return found
        stack.pop()
        state[u] = 2
        return None

    return next((c for c in (visit(u) for u in sorted(graph) if u not in state) if c), None)


class TestLayering(unittest.TestCase):
    def test_cycle_finder_and_parser_on_synthetic_input(self):
        self.assertIsNone(find_cycle({'a': {'b', 'c'}, 'b': {'c'}, 'c': set()}))
        self.assertEqual(find_cycle({'a': {'b'}, 'b': {'c'}, 'c': {'a'}}), ['a', 'b', 'c', 'a'])
        self.assertEqual(find_cycle({'x': set(), 'm': {'l'}, 'l': {'m'}}), ['l', 'm', 'l'])
        with tempfile.TemporaryDirectory() as tmp:  # the old losses ⇄ matching cycle, hidden in a function
            for name, src in (
                ('losses', 'from .boxes import giou\ndef f():\n    from .matching import m\n'),
                ('matching', 'import torch\nfrom training.lors_studio.losses import giou\n'),
                ('boxes', 'from . import config\n'),
            ):
                with open(os.path.join(tmp, name + '.py'), 'w') as f:
                    f.write(src)
            mods = {'losses', 'matching', 'boxes', 'config'}
            graph = {m: set(package_imports(os.path.join(tmp, m + '.py'), mods)) for m in mods - {'config'}}
        self.assertEqual(graph, {'losses': {'boxes', 'matching'}, 'matching': {'losses'}, 'boxes': {'config'}})
        self.assertEqual(find_cycle(graph), ['losses', 'matching', 'losses'])

    def test_private_finder_on_synthetic_input(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, 'gpu_train.py')
            with open(path, 'w') as f:
                f.write(
                    'from .train import _float_list, state_hash\nfrom . import data as D\n'
                    'import training.lors_studio.boxes as B\nx = D._kept(B._area, D.pad, __name__)\n'
                )
            found = private_uses(path, {'train', 'data', 'boxes', 'gpu_train'})
        self.assertEqual(sorted(found), ['boxes._area (line 4)', 'data._kept (line 4)', 'train._float_list (line 1)'])

    def test_variant_check_finder_on_synthetic_input(self):
        bad = "if cfg.variant == 'lors':\n    pass\nok = v not in ('vanilla', 'x')\n"
        bad += "match v:\n    case 'lors':\n        pass\n"
        self.assertEqual(variant_name_checks(bad), [1, 3, 5])
        data = "SEEDS = {'vanilla': 1}\nif 'vanilla' in ref:\n    f('lors', variant='lors')\nok = m == 'nanodet'\n"
        self.assertEqual(variant_name_checks(data), [])

    def test_variants_are_told_apart_only_in_the_table(self):
        for m in sorted(f[:-3] for f in os.listdir(PKG) if f.endswith('.py') and f != 'config.py'):
            with open(os.path.join(PKG, m + '.py'), encoding='utf-8') as f:
                found = variant_name_checks(f.read())
            self.assertEqual(found, [], f'{m}.py checks a variant name (lines {found}); use config.VARIANTS')

    def test_package(self):
        modules = {f[:-3] for f in os.listdir(PKG) if f.endswith('.py')}
        graph = {m: set(package_imports(os.path.join(PKG, m + '.py'), modules)) - {m} for m in modules}
        for a, b in (('matching', 'boxes'), ('losses', 'matching'), ('train', 'checkpoint'), ('compress', 'evaluate')):
            self.assertIn(b, graph[a])
        self.assertIsNone(find_cycle(graph), f'import cycle: {find_cycle(graph)}')
        for m in sorted(modules):
            tree = ast.parse(open(os.path.join(PKG, m + '.py'), encoding='utf-8').read())
            top = {id(n) for n in tree.body}
            local = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level and id(n) not in top]
            self.assertEqual(local, [], f'{m}.py: package imports inside functions (lines {local})')
            used = private_uses(os.path.join(PKG, m + '.py'), modules)
            self.assertEqual(used, [], f"{m}.py uses other modules' private names")


if __name__ == '__main__':
    unittest.main()
