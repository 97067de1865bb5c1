// One readable line for any error a reconcile meets: the API server's message for a failed
// Kubernetes call, the broker's error name and message for a failed admin call.

import { ApiException } from '@kubernetes/client-node';
import { apiErrorMessage } from '../runtime/kube.js';
import { kafkaErrorMessage } from '../kafka/admin.js';

export function describeError(err: unknown): string {
  return err instanceof ApiException ? apiErrorMessage(err) : kafkaErrorMessage(err);
}
