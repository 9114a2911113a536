/**
 * A small argument parser shared by the CLIs: `--name value`, `--name=value`, boolean `--flag`, positionals,
 * `--help`. Unknown options and missing values are errors (UsageError → message + usage, exit code 2).
 */

import { pathToFileURL } from 'node:url';

export class UsageError extends Error {}

export interface OptionSpec {
  /** 'string' takes a value; 'boolean' is a flag. */
  type: 'string' | 'boolean';
  /** One-line help. */
  help: string;
  /** For string options: the allowed values. */
  choices?: readonly string[];
}

export interface ParsedArgs {
  options: Record<string, string | boolean | undefined>;
  positionals: string[];
  help: boolean;
}

export function parseArgs(
  argv: string[],
  spec: Record<string, OptionSpec>,
  opts: { maxPositionals?: number } = {},
): ParsedArgs {
  const options: ParsedArgs['options'] = {};
  const positionals: string[] = [];
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (a === '--help' || a === '-h') {
      help = true;
      continue;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
      const s = spec[name];
      if (!s) throw new UsageError(`unknown option --${name}`);
      if (s.type === 'boolean') {
        if (eq >= 0) throw new UsageError(`--${name} is a flag and takes no value`);
        options[name] = true;
        continue;
      }
      let value: string;
      if (eq >= 0) value = a.slice(eq + 1);
      else {
        const next = argv[i + 1];
        if (next === undefined || (next.startsWith('--') && next.length > 2))
          throw new UsageError(`--${name} needs a value`);
        value = next;
        i++;
      }
      if (s.choices && !s.choices.includes(value)) {
        throw new UsageError(`--${name} must be one of ${s.choices.join(', ')}; got "${value}"`);
      }
      options[name] = value;
      continue;
    }
    if (a.startsWith('-') && a.length > 1 && !/^-\d/.test(a)) throw new UsageError(`unknown option ${a}`);
    positionals.push(a);
  }
  if (opts.maxPositionals !== undefined && positionals.length > opts.maxPositionals) {
    throw new UsageError(
      `unexpected argument${positionals.length - opts.maxPositionals > 1 ? 's' : ''}: ${positionals.slice(opts.maxPositionals).join(' ')}`,
    );
  }
  return { options, positionals, help };
}

export function usageText(command: string, synopsis: string, spec: Record<string, OptionSpec>): string {
  const rows = Object.entries(spec).map(([name, s]) => {
    const left = s.type === 'boolean' ? `--${name}` : `--${name} ${s.choices ? s.choices.join('|') : 'VALUE'}`;
    return `  ${left.padEnd(36)} ${s.help}`;
  });
  return `usage: ${command} ${synopsis}\n\noptions:\n${rows.join('\n')}\n  ${'--help'.padEnd(36)} show this help`;
}

export function str(p: ParsedArgs, name: string): string | undefined {
  const v = p.options[name];
  return typeof v === 'string' ? v : undefined;
}

export function flag(p: ParsedArgs, name: string): boolean {
  return p.options[name] === true;
}

export function requireStr(p: ParsedArgs, name: string): string {
  const v = str(p, name);
  if (v === undefined || v === '') throw new UsageError(`--${name} is required`);
  return v;
}

/** An integer option within [min, max], or the default. */
export function int(
  p: ParsedArgs,
  name: string,
  def: number | undefined,
  min = -Infinity,
  max = Infinity,
): number | undefined {
  const v = str(p, name);
  if (v === undefined) return def;
  const n = Number(v);
  if (v.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(
      `--${name} must be an integer${Number.isFinite(min) ? ` ≥ ${min}` : ''}${Number.isFinite(max) ? ` and ≤ ${max}` : ''}; got "${v}"`,
    );
  }
  return n;
}

/** A number option within [min, max], or the default. */
export function num(p: ParsedArgs, name: string, def: number, min = -Infinity, max = Infinity): number {
  const v = str(p, name);
  if (v === undefined) return def;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be a number between ${min} and ${max}; got "${v}"`);
  }
  return n;
}

/**
 * Runs a CLI's main when `moduleUrl` (its import.meta.url) is the script Node started, with the parsed arguments
 * (`--help` prints the usage instead): UsageError → "error: …" + usage hint, exit 2; other errors → "error: …",
 * exit 1. Set LORS_DEBUG=1 for stack traces.
 */
export function runCli(
  moduleUrl: string,
  command: string,
  { spec, usage, maxPositionals = 0 }: { spec: Record<string, OptionSpec>; usage: string; maxPositionals?: number },
  main: (a: ParsedArgs, argv: string[]) => Promise<void>,
): void {
  if (moduleUrl !== pathToFileURL(process.argv[1] ?? '').href) return;
  const argv = process.argv.slice(2);
  const run = async () => {
    const a = parseArgs(argv, spec, { maxPositionals });
    if (a.help) console.log(usage);
    else await main(a, argv);
  };
  run().then(
    () => {
      process.exitCode = process.exitCode ?? 0;
    },
    (e: unknown) => {
      const msg = e instanceof Error ? e.message : String(e);
      if (e instanceof UsageError) {
        process.stderr.write(`${command}: error: ${msg}\n\n${usage}\n`);
        process.exitCode = 2;
      } else {
        process.stderr.write(`${command}: error: ${msg}\n`);
        if (process.env.LORS_DEBUG && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
        process.exitCode = 1;
      }
    },
  );
}
