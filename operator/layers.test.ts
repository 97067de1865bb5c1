// The operator's folders are layers: each imports only the ones below it, so the pure builders and
// planners stay free of I/O and the runtime (queue, leases, watches) knows nothing of reconciles.
// The composition root (main.ts, controllers.ts) and test/ may import anything.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = path.dirname(fileURLToPath(import.meta.url));

/** Folder → the folders it may import from (besides itself). */
const ALLOWED: Record<string, readonly string[]> = {
  api: [],
  desired: ['api'],
  topics: ['api'],
  kafka: ['topics'],
  runtime: ['api'],
  reconcile: ['api', 'desired', 'topics', 'kafka', 'runtime', 'rebalance'],
  rack: ['desired', 'runtime'],
  rebalance: ['api', 'kafka', 'topics'],
};

function importsOf(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  return [...text.matchAll(/^\s*(?:import|export)[^'"]*from\s+'(\.[^']+)'/gm)].map((m) => m[1]);
}

describe('operator layers', () => {
  it('has a rule for every folder', () => {
    const folders = fs
      .readdirSync(ROOT, { withFileTypes: true })
      .filter((d) => d.isDirectory() && d.name !== 'test')
      .map((d) => d.name);
    expect(folders.sort()).toEqual(Object.keys(ALLOWED).sort());
  });

  for (const [folder, allowed] of Object.entries(ALLOWED)) {
    it(`${folder}/ imports only from ${allowed.length > 0 ? allowed.join(', ') : 'itself'}`, () => {
      const wrong: string[] = [];
      for (const name of fs.readdirSync(path.join(ROOT, folder))) {
        if (!name.endsWith('.ts') || name.endsWith('.test.ts')) continue;
        const file = path.join(ROOT, folder, name);
        for (const spec of importsOf(file)) {
          const target = path.relative(ROOT, path.resolve(path.dirname(file), spec)).split(path.sep)[0];
          if (target !== folder && !allowed.includes(target)) wrong.push(`${folder}/${name} imports ${spec}`);
        }
      }
      expect(wrong).toEqual([]);
    });
  }
});
