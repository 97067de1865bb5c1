// Dynamic broker configs, as Kafka's DynamicBrokerConfig: a key marked `dynamic` in keys.ts can be
// set at run time for one broker (ConfigRecord resource name = its node id) or for every broker
// (resource name "", the cluster-wide default). A broker's effective value of a key is, first found:
// its own dynamic value, the cluster default, server.properties (static), the key's default. The
// records live in the metadata image, so every node resolves the same layers and a value survives
// restarts. Everything here is pure: the controller plans changes with it, brokers resolve with it.

import { BROKER_KEYS_BY_NAME, checkValue, suggestKey } from './keys.js';

/** The ConfigRecord resource name of the cluster-wide default (Kafka's `<default>` entity). */
export const CLUSTER_DEFAULT_RESOURCE = '';

/** Where a broker key's value comes from, highest precedence first (Kafka's ConfigSource names). */
export type BrokerConfigSource =
  'DYNAMIC_BROKER_CONFIG' | 'DYNAMIC_DEFAULT_BROKER_CONFIG' | 'STATIC_BROKER_CONFIG' | 'DEFAULT_CONFIG';

/** The layers one broker resolves a key through. */
export interface BrokerConfigLayers {
  /** This broker's own dynamic configs. */
  perBroker: ReadonlyMap<string, string>;
  /** The cluster-wide dynamic defaults. */
  clusterDefault: ReadonlyMap<string, string>;
  /** server.properties, --override and RUNNEL_ environment variables. */
  static: ReadonlyMap<string, string>;
}

export interface BrokerConfigSynonym {
  name: string;
  value: string;
  source: BrokerConfigSource;
}

/**
 * Every layer that holds a value for `name`, highest precedence first; the head is the effective
 * value. The key's default comes last when it has one.
 */
export function brokerConfigSynonyms(name: string, layers: BrokerConfigLayers): BrokerConfigSynonym[] {
  const out: BrokerConfigSynonym[] = [];
  const add = (value: string | null | undefined, source: BrokerConfigSource) => {
    if (value !== undefined && value !== null) out.push({ name, value, source });
  };
  add(layers.perBroker.get(name), 'DYNAMIC_BROKER_CONFIG');
  add(layers.clusterDefault.get(name), 'DYNAMIC_DEFAULT_BROKER_CONFIG');
  add(layers.static.get(name), 'STATIC_BROKER_CONFIG');
  add(BROKER_KEYS_BY_NAME.get(name)?.default, 'DEFAULT_CONFIG');
  return out;
}

/** The dynamic value of `name` that applies to a broker (its own, else the cluster default), if any. */
export function dynamicBrokerValue(
  name: string,
  layers: Pick<BrokerConfigLayers, 'perBroker' | 'clusterDefault'>,
): { value: string; source: 'DYNAMIC_BROKER_CONFIG' | 'DYNAMIC_DEFAULT_BROKER_CONFIG' } | undefined {
  const own = layers.perBroker.get(name);
  if (own !== undefined) return { value: own, source: 'DYNAMIC_BROKER_CONFIG' };
  const cluster = layers.clusterDefault.get(name);
  if (cluster !== undefined) return { value: cluster, source: 'DYNAMIC_DEFAULT_BROKER_CONFIG' };
  return undefined;
}

/** A BROKER resource name is a node id or "" (the cluster default), as Kafka's controller checks. */
export function checkBrokerResourceName(resourceName: string): string | undefined {
  if (resourceName === CLUSTER_DEFAULT_RESOURCE) return undefined;
  if (/^\d+$/.test(resourceName) && Number(resourceName) <= 2 ** 31 - 1) return undefined;
  return `Invalid broker name ${JSON.stringify(resourceName)}: use a node id, or an empty name for the cluster-wide default.`;
}

/** What is wrong with setting broker key `name` to `value` at run time, if anything. */
export function checkDynamicBrokerConfig(name: string, value: string | null): string | undefined {
  const key = BROKER_KEYS_BY_NAME.get(name);
  if (!key) {
    const hint = suggestKey(name, BROKER_KEYS_BY_NAME.keys());
    return `Unknown broker config name: ${name}${hint ? ` (did you mean ${hint}?)` : ''}`;
  }
  if (!key.dynamic)
    return `Cannot update these configs dynamically: ${name}. It is read only at start-up: set it in server.properties and restart the broker.`;
  if (value === null) return undefined;
  const problem = checkValue(key, value);
  return problem ? `Invalid value ${value} for configuration ${name}: ${problem}` : undefined;
}

export type BrokerConfigOp = 'set' | 'delete' | 'append' | 'subtract';

export type BrokerConfigPlan =
  | { ok: true; /** ConfigRecord changes: name → new value, null to remove. */ changes: Map<string, string | null> }
  | { ok: false; problem: string };

/**
 * Applies `changes` to a resource's current dynamic configs and returns what differs. `replaceAll`
 * is legacy AlterConfigs: keys not listed are removed. Every change is checked before any applies.
 */
export function planBrokerConfigChanges(
  current: ReadonlyMap<string, string>,
  changes: ReadonlyArray<{ name: string; op: BrokerConfigOp; value: string | null }>,
  replaceAll: boolean,
): BrokerConfigPlan {
  const next = new Map(replaceAll ? [] : current);
  for (const c of changes) {
    const problem = checkDynamicBrokerConfig(c.name, c.op === 'set' ? c.value : null);
    if (problem) return { ok: false, problem };
    switch (c.op) {
      case 'set':
        if (c.value === null) return { ok: false, problem: `Null value not supported for broker config ${c.name}.` };
        next.set(c.name, c.value);
        break;
      case 'delete':
        next.delete(c.name);
        break;
      case 'append':
      case 'subtract': {
        const key = BROKER_KEYS_BY_NAME.get(c.name)!;
        if (key.type !== 'list')
          return {
            ok: false,
            problem: `Config ${c.name} is not a list; ${c.op.toUpperCase()} needs a list config.`,
          };
        const items = new Set(splitList(next.get(c.name) ?? key.default ?? ''));
        for (const item of splitList(c.value ?? '')) {
          if (c.op === 'append') items.add(item);
          else items.delete(item);
        }
        const value = [...items].join(',');
        const bad = checkDynamicBrokerConfig(c.name, value);
        if (bad) return { ok: false, problem: bad };
        next.set(c.name, value);
        break;
      }
    }
  }
  const diff = new Map<string, string | null>();
  for (const name of new Set([...current.keys(), ...next.keys()])) {
    const value = next.get(name) ?? null;
    if (value !== (current.get(name) ?? null)) diff.set(name, value);
  }
  return { ok: true, changes: diff };
}

function splitList(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}
