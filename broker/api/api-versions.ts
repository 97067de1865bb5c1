import type { BrokerContext } from '../core/broker.js';
import { ErrorCode } from '../protocol/errors.js';
import { ApiVersions } from '../protocol/messages/index.js';
import { handler } from './dispatch.js';

export const apiVersionsHandler = (broker: () => BrokerContext) =>
  handler(ApiVersions, () => ({
    errorCode: ErrorCode.NONE,
    apiKeys: broker().supportedApis(),
    throttleTimeMs: 0,
  }));
