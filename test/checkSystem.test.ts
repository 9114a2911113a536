/** scripts/check-system.sh: a missing system package stops `npm test` at once with the apt-get command to run. */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const run = (env: Record<string, string>) =>
  spawnSync('bash', ['scripts/check-system.sh', '--check'], { env: { ...process.env, ...env }, encoding: 'utf8' });

describe('check-system.sh', () => {
  it('names every package when neither chromium nor python3 is there, in one apt-get line', () => {
    const r = run({ PYTHON: '/nonexistent/python3', CHROMIUM_PATH: '/nonexistent/chromium' });
    expect(r.status).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      new RegExp(
        'sudo apt-get install -y chromium python3 python3-torch python3-scipy python3-numpy ' +
          'python3-matplotlib python3-pil',
      ),
    );
  });

  it('finds a Python module that does not import (matplotlib) and names its package only', () => {
    const dir = mkdtempSync(join(tmpdir(), 'check-system-'));
    const py = join(dir, 'python3');
    // A python3 whose matplotlib is missing (None in sys.modules makes its import fail); runs the script from stdin.
    writeFileSync(
      py,
      `#!/bin/sh\nexec /usr/bin/python3 -c 'import sys; sys.modules["matplotlib"] = None; exec(sys.stdin.read())'\n`,
    );
    chmodSync(py, 0o755);
    const r = run({ PYTHON: py, CHROMIUM_PATH: '/bin/sh' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/sudo apt-get install -y .*python3-matplotlib/);
    expect(r.stderr).not.toMatch(/chromium|python3-torch|python3-numpy/);
  });
});
