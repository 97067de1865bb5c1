// The shared entry point of the Node drivers: `node <driver>.js <op> <task.json>` runs one
// operation and prints its result as one JSON line on stdout, `error` set on failure.

import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

export type Op = (task: never, out: Record<string, unknown>) => Promise<void>;

export function describeError(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const parts = [`${e.name}: ${e.message}`];
  const extra = e as Error & { type?: string; code?: string; errors?: unknown[]; cause?: unknown };
  if (extra.type) parts.push(`type ${extra.type}`);
  if (Array.isArray(extra.errors) && extra.errors.length > 0)
    parts.push(`errors: ${extra.errors.map((x) => describeError(x)).join('; ')}`);
  if (extra.cause) parts.push(`cause: ${describeError(extra.cause)}`);
  return parts.join(' | ');
}

export async function runDriver(ops: Record<string, Op>): Promise<never> {
  const [op, taskFile] = process.argv.slice(2);
  const out: Record<string, unknown> = {};
  let code = 0;
  try {
    const run = ops[op ?? ''];
    if (!run) throw new Error(`unknown operation ${op}; known: ${Object.keys(ops).join(', ')}`);
    const task: unknown = taskFile ? JSON.parse(readFileSync(taskFile, 'utf8')) : {};
    await run(task as never, out);
  } catch (e) {
    out.error = describeError(e);
    code = 1;
  }
  process.stdout.write(JSON.stringify(out) + '\n', () => process.exit(code));
  // Clients may keep sockets or timers alive; the write callback above ends the process.
  return new Promise<never>(() => {});
}

export function deadline(ms: number): () => boolean {
  const end = Date.now() + ms;
  return () => Date.now() > end;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An installed package's version, from its package.json (found above its resolved entry point). */
export function packageVersion(name: string): string {
  let dir = path.dirname(createRequire(import.meta.url).resolve(name));
  for (;;) {
    const file = path.join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version: string };
      if (pkg.name === name) return pkg.version;
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`cannot find the package.json of ${name}`);
    dir = up;
  }
}
