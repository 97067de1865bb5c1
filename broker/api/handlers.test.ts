import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createControllerHandlers, createHandlers } from './handlers.js';
import type { Handler } from './dispatch.js';
import type { BrokerServices } from './services.js';

describe('advertised APIs', () => {
  // Only the tables are read: no handler runs, so no service is needed.
  const tables: Array<[string, Handler[]]> = [
    ['client listeners', createHandlers({} as BrokerServices)],
    ['controller listeners', createControllerHandlers({} as BrokerServices)],
  ];
  const doc = readFileSync(new URL('../../docs/compatibility.md', import.meta.url), 'utf8');
  const [clientSection, controllerSection] = doc.split('## Controller listener');
  const documented = (section: string) =>
    [...section.matchAll(/^\| (\d+) \| (\w+) \| (\d+)–(\d+) \|/gm)].map((m) => `${m[1]} ${m[2]} ${m[3]}-${m[4]}`);

  it.each(
    tables.map(([name, handlers], i) => ({ name, handlers, section: i === 0 ? clientSection : controllerSection })),
  )(
    'on $name are exactly the ones docs/compatibility.md lists for them, with the same version ranges',
    ({ handlers, section }) => {
      const advertised = handlers.map(
        (h) => `${h.api.key} ${h.api.name} ${h.api.advertisedMinVersion}-${h.api.maxVersion}`,
      );
      expect(documented(section).sort()).toEqual(advertised.sort());
    },
  );

  it.each(tables)('on %s have one handler per API key', (_name, handlers) => {
    const keys = handlers.map((h) => h.api.key);
    expect(new Set(keys).size).toBe(keys.length);
  });
});
