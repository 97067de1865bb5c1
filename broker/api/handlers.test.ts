import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createHandlers } from './handlers.js';
import type { BrokerServices } from './services.js';

describe('advertised APIs', () => {
  // Only the table is read: no handler runs, so no service is needed.
  const handlers = createHandlers({} as BrokerServices);

  it('are exactly the ones docs/compatibility.md lists, with the same version ranges', () => {
    const doc = readFileSync(new URL('../../docs/compatibility.md', import.meta.url), 'utf8');
    const documented = [...doc.matchAll(/^\| (\d+) \| (\w+) \| (\d+)–(\d+) \|/gm)].map(
      (m) => `${m[1]} ${m[2]} ${m[3]}-${m[4]}`,
    );
    const advertised = handlers.map(
      (h) => `${h.api.key} ${h.api.name} ${h.api.advertisedMinVersion}-${h.api.maxVersion}`,
    );
    expect(documented.sort()).toEqual(advertised.sort());
  });

  it('have one handler per API key', () => {
    const keys = handlers.map((h) => h.api.key);
    expect(new Set(keys).size).toBe(keys.length);
  });
});
