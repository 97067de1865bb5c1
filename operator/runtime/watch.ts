// Watches of one kind (in all namespaces, or in each listed one), kept in a local cache. Every
// change calls `onChange`, which only enqueues keys: reconciles read the current state themselves.
// A watch that ends is resumed by the informer; one that fails is restarted after a pause.

import {
  KubernetesObjectApi,
  makeInformer,
  type Informer,
  type KubeConfig,
  type KubernetesObject,
  type ObjectCache,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { Clock } from './clock.js';
import { apiErrorMessage, type Lister } from './kube.js';

const RESTART_DELAY_MS = 5_000;

export interface WatchSpec {
  apiVersion: string;
  kind: string;
  /** Plural resource name, as in the API path. */
  plural: string;
  labelSelector?: string;
}

export interface Watch<T> extends Lister<T> {
  /** Every cached object, in every watched namespace. */
  all(): readonly T[];
  /** Resolves when the first list of every namespace is in the cache. */
  readonly synced: Promise<void>;
  stop(): Promise<void>;
}

/** `T` is the shape the caller reads the objects as (custom resources are plain JSON). */
export function watch<T>(
  kc: KubeConfig,
  spec: WatchSpec,
  namespaces: readonly string[],
  onChange: (obj: T) => void,
  log: Logger,
  clock: Clock,
): Watch<T> {
  const objects = KubernetesObjectApi.makeApiClient(kc);
  const prefix = spec.apiVersion.includes('/') ? `/apis/${spec.apiVersion}` : `/api/${spec.apiVersion}`;
  const scopes = namespaces.length > 0 ? namespaces : [undefined];
  let stopped = false;
  const informers = scopes.map((namespace) => {
    const path = `${prefix}${namespace ? `/namespaces/${namespace}` : ''}/${spec.plural}`;
    // The informer swallows a failed list (and reports it as an error), so "synced" is the first
    // list that succeeded; setImmediate lets the informer fill its cache from it first.
    let listed!: () => void;
    const firstList = new Promise<void>((resolve) => (listed = resolve));
    const informer: Informer<KubernetesObject> & ObjectCache<KubernetesObject> = makeInformer(
      kc,
      path,
      async () => {
        const list = await objects.list(
          spec.apiVersion,
          spec.kind,
          namespace,
          undefined,
          undefined,
          undefined,
          undefined,
          spec.labelSelector,
        );
        setImmediate(listed);
        return list;
      },
      spec.labelSelector,
    );
    const changed = (obj: KubernetesObject) => onChange(obj as T);
    informer.on('add', changed);
    informer.on('update', changed);
    informer.on('delete', changed);
    const restartLater = (err: unknown) => {
      if (stopped) return;
      log.warn({ path, error: apiErrorMessage(err) }, 'watch failed; restarting');
      clock.setTimeout(() => void start(), RESTART_DELAY_MS);
    };
    const start = () => informer.start().catch(restartLater);
    informer.on('error', restartLater);
    void start();
    return { namespace, informer, firstList };
  });
  const cacheOf = (namespace: string) =>
    informers.find((i) => i.namespace === undefined || i.namespace === namespace)?.informer;
  return {
    synced: Promise.all(informers.map((i) => i.firstList)).then(() => undefined),
    get: (namespace, name) => cacheOf(namespace)?.get(name, namespace) as T | undefined,
    list: (namespace) => (cacheOf(namespace)?.list(namespace) ?? []) as readonly T[],
    all: () => informers.flatMap((i) => i.informer.list()) as T[],
    async stop() {
      stopped = true;
      await Promise.all(informers.map((i) => i.informer.stop()));
    },
  };
}
