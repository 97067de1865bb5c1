// The operator's view of the Kubernetes API: the handful of calls reconcilers make, behind an
// interface so they can be tested with an in-memory double. Writes are server-side apply under
// one field manager; finalizers use a merge patch guarded by resourceVersion.

import {
  ApiException,
  CoreV1Api,
  CustomObjectsApi,
  KubernetesObjectApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { FIELD_MANAGER } from '../api/types.js';
import { realClock, type Clock } from './clock.js';

export interface ObjectRef {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
}

/** The identity of an object, which is all that events and finalizer patches need. */
export interface Identity {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; uid?: string; resourceVersion?: string };
}

export interface Kube {
  get<T extends KubernetesObject>(ref: ObjectRef): Promise<T | undefined>;
  list<T extends KubernetesObject>(
    apiVersion: string,
    kind: string,
    namespace: string,
    labelSelector: string,
  ): Promise<T[]>;
  /** Server-side apply: the fields given are the fields the operator owns. */
  apply<T extends KubernetesObject>(obj: T): Promise<T>;
  /** Server-side apply of the status subresource of a custom resource; a vanished object is left alone. */
  applyStatus(obj: ObjectRef, status: object): Promise<void>;
  /** Replaces the finalizers, failing with a conflict if the object changed since it was read. */
  setFinalizers(obj: Identity, finalizers: string[]): Promise<void>;
  /** Sets annotations on an object someone else owns (a merge patch: it never creates one); a vanished object is left alone. */
  annotate(ref: ObjectRef, annotations: Record<string, string>): Promise<void>;
  /** A JSON merge patch of an object someone else owns (e.g. a claim's requested size); a vanished object is left alone. */
  mergePatch(ref: ObjectRef, patch: object): Promise<void>;
  /**
   * Deleting an object that is already gone succeeds. `Orphan` leaves its dependents (a
   * StatefulSet's pods and claims) where they are.
   */
  delete(ref: ObjectRef, options?: { propagationPolicy?: 'Orphan' | 'Background' | 'Foreground' }): Promise<void>;
  event(regarding: Identity, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void>;
}

export function isNotFound(err: unknown): boolean {
  return err instanceof ApiException && err.code === 404;
}

/** A readable message for a failed API call (the API server's own message when it gave one). */
export function apiErrorMessage(err: unknown): string {
  if (err instanceof ApiException) {
    const body = err.body as { message?: string } | string | undefined;
    const message = typeof body === 'string' ? body : body?.message;
    return `HTTP ${err.code}${message ? `: ${message}` : ''}`;
  }
  return err instanceof Error ? err.message : String(err);
}

function splitApiVersion(apiVersion: string): { group: string; version: string } {
  const slash = apiVersion.indexOf('/');
  return slash < 0
    ? { group: '', version: apiVersion }
    : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

/** Plural resource names of the custom resources (status goes through CustomObjectsApi). */
const PLURALS: Record<string, string> = { KafkaCluster: 'kafkaclusters', KafkaTopic: 'kafkatopics' };

export class ClientKube implements Kube {
  private readonly objects: KubernetesObjectApi;
  private readonly custom: CustomObjectsApi;
  private readonly core: CoreV1Api;

  constructor(
    kc: KubeConfig,
    private readonly identity: string,
    private readonly clock: Clock = realClock,
  ) {
    this.objects = KubernetesObjectApi.makeApiClient(kc);
    this.custom = kc.makeApiClient(CustomObjectsApi);
    this.core = kc.makeApiClient(CoreV1Api);
  }

  async get<T extends KubernetesObject>(ref: ObjectRef): Promise<T | undefined> {
    try {
      return await this.objects.read<T>({
        apiVersion: ref.apiVersion,
        kind: ref.kind,
        metadata: { name: ref.name, namespace: ref.namespace },
      });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async list<T extends KubernetesObject>(
    apiVersion: string,
    kind: string,
    namespace: string,
    labelSelector: string,
  ): Promise<T[]> {
    const list = await this.objects.list<T>(
      apiVersion,
      kind,
      namespace,
      undefined,
      undefined,
      undefined,
      undefined,
      labelSelector,
    );
    return list.items;
  }

  async apply<T extends KubernetesObject>(obj: T): Promise<T> {
    return this.objects.patch(obj, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
  }

  async applyStatus(ref: ObjectRef, status: object): Promise<void> {
    const { group, version } = splitApiVersion(ref.apiVersion);
    try {
      await this.custom.patchNamespacedCustomObjectStatus(
        {
          group,
          version,
          namespace: ref.namespace,
          plural: PLURALS[ref.kind] ?? `${ref.kind.toLowerCase()}s`,
          name: ref.name,
          body: {
            apiVersion: ref.apiVersion,
            kind: ref.kind,
            metadata: { name: ref.name, namespace: ref.namespace },
            status,
          },
          fieldManager: FIELD_MANAGER,
          force: true,
        },
        setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply),
      );
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  async setFinalizers(obj: Identity, finalizers: string[]): Promise<void> {
    const patch = {
      apiVersion: obj.apiVersion,
      kind: obj.kind,
      metadata: {
        name: obj.metadata?.name,
        namespace: obj.metadata?.namespace,
        resourceVersion: obj.metadata?.resourceVersion,
        finalizers,
      },
    };
    await this.objects.patch(patch, undefined, undefined, FIELD_MANAGER, undefined, PatchStrategy.MergePatch);
  }

  async annotate(ref: ObjectRef, annotations: Record<string, string>): Promise<void> {
    const patch = {
      apiVersion: ref.apiVersion,
      kind: ref.kind,
      metadata: { name: ref.name, namespace: ref.namespace, annotations },
    };
    try {
      await this.objects.patch(patch, undefined, undefined, FIELD_MANAGER, undefined, PatchStrategy.MergePatch);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  async mergePatch(ref: ObjectRef, patch: object): Promise<void> {
    try {
      await this.objects.patch(
        {
          ...patch,
          apiVersion: ref.apiVersion,
          kind: ref.kind,
          metadata: { name: ref.name, namespace: ref.namespace },
        },
        undefined,
        undefined,
        FIELD_MANAGER,
        undefined,
        PatchStrategy.MergePatch,
      );
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  async delete(
    ref: ObjectRef,
    options?: { propagationPolicy?: 'Orphan' | 'Background' | 'Foreground' },
  ): Promise<void> {
    try {
      await this.objects.delete(
        {
          apiVersion: ref.apiVersion,
          kind: ref.kind,
          metadata: { name: ref.name, namespace: ref.namespace },
        },
        undefined,
        undefined,
        undefined,
        undefined,
        options?.propagationPolicy,
      );
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  async event(regarding: Identity, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const now = new Date(this.clock.now());
    const namespace = regarding.metadata?.namespace ?? 'default';
    await this.core.createNamespacedEvent({
      namespace,
      body: {
        metadata: { generateName: `${regarding.metadata?.name}.`, namespace },
        involvedObject: {
          apiVersion: regarding.apiVersion,
          kind: regarding.kind,
          name: regarding.metadata?.name,
          namespace,
          uid: regarding.metadata?.uid,
        },
        type,
        reason,
        message,
        source: { component: FIELD_MANAGER },
        reportingComponent: FIELD_MANAGER,
        reportingInstance: this.identity,
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      },
    });
  }
}

/** Read access to a watched kind, served from the watch cache. */
export interface Lister<T> {
  get(namespace: string, name: string): T | undefined;
  list(namespace: string): readonly T[];
}
