// Turns a request frame into a response: header, version check, decode, handler, encode.
// Unknown APIs and unsupported versions close the connection, as in Kafka, except
// ApiVersions, which answers UNSUPPORTED_VERSION with the full list so the client can retry.

import type { Logger } from 'pino';
import {
  readRequestHeader,
  skipHeaderTaggedFields,
  writeResponseHeader,
  type RequestHeader,
} from '../protocol/header.js';
import { ControllerUnavailableError } from '../cluster/controller-channel.js';
import type { QuorumController } from '../controller/quorum-controller.js';
import { ErrorCode } from '../protocol/errors.js';
import { ApiVersions } from '../protocol/messages/index.js';
import {
  compile,
  isFlexible,
  type ApiDefinition,
  type Decoded,
  type Fields,
  type Input,
  type RequestOf,
  type ResponseOf,
} from '../protocol/schema.js';
import { MalformedFrameError, Reader, Writer } from '../protocol/wire.js';
import { CloseConnection, type ConnectionInfo, type Response } from '../server/connection.js';

export interface RequestContext {
  header: RequestHeader;
  connection: ConnectionInfo;
  logger: Logger;
  /**
   * For a handler whose response refers to buffers it must get back (pooled read buffers):
   * `release` runs once the response is written or will never be. At most once per request.
   */
  releaseAfterWrite(release: () => void): void;
}

/** What a handler returns: the response, or NO_RESPONSE (produce with acks=0). */
export const NO_RESPONSE = Symbol('no response');

type AnyApi = ApiDefinition<Fields, Fields>;

export interface Handler<A extends AnyApi = AnyApi> {
  api: A;
  handle(
    request: RequestOf<A>,
    ctx: RequestContext,
  ): Promise<ResponseOf<A> | typeof NO_RESPONSE> | ResponseOf<A> | typeof NO_RESPONSE;
}

export function handler<A extends AnyApi>(api: A, handle: Handler<A>['handle']): Handler {
  return { api, handle };
}

/** Where a request that changes cluster metadata is answered: the active controller. */
export interface ControllerRoute {
  call<Req extends Fields, Res extends Fields>(
    api: ApiDefinition<Req, Res>,
    version: number,
    body: Input<Req>,
    local: (controller: QuorumController) => Promise<Decoded<Res>>,
  ): Promise<Decoded<Res>>;
}

/**
 * A handler for a request only the active controller can answer: it runs `handle` there, and
 * any other node forwards the request as received (same version) and relays the answer. When no
 * controller answers in time (a quorum without a leader), `unavailable` builds the answer:
 * REQUEST_TIMED_OUT, which clients retry.
 */
export function controllerHandler<A extends AnyApi>(
  api: A,
  route: ControllerRoute,
  handle: (controller: QuorumController, request: RequestOf<A>, ctx: RequestContext) => Promise<ResponseOf<A>>,
  unavailable: (request: RequestOf<A>, errorCode: number, errorMessage: string) => ResponseOf<A>,
): Handler {
  return handler(api, async (req, ctx) => {
    try {
      const answer = await route.call(api, ctx.header.apiVersion, req, (c) => handle(c, req, ctx));
      return answer as ResponseOf<A>;
    } catch (err) {
      if (!(err instanceof ControllerUnavailableError)) throw err;
      ctx.logger.warn({ api: api.name, reason: err.message }, 'no active controller answered');
      return unavailable(req, ErrorCode.REQUEST_TIMED_OUT, err.message);
    }
  });
}

export interface SupportedApi {
  apiKey: number;
  minVersion: number;
  maxVersion: number;
}

/** What ApiVersions advertises for these APIs, in key order. */
export function supportedApis(apis: readonly AnyApi[]): SupportedApi[] {
  return apis
    .map((api) => ({ apiKey: api.key, minVersion: api.advertisedMinVersion, maxVersion: api.maxVersion }))
    .sort((a, b) => a.apiKey - b.apiKey);
}

/** Told about every answered request (metrics). */
export interface RequestObserver {
  answered(api: string, seconds: number, requestBytes: number, responseBytes: number): void;
}

export class Dispatcher {
  private readonly byKey = new Map<number, Handler>();

  constructor(
    handlers: Handler[],
    private readonly observer?: RequestObserver,
  ) {
    for (const h of handlers) this.byKey.set(h.api.key, h);
  }

  supportedApis(): SupportedApi[] {
    return supportedApis([...this.byKey.values()].map((h) => h.api));
  }

  async handleFrame(frame: Buffer, connection: ConnectionInfo): Promise<Response | null> {
    const r = new Reader(frame);
    let header: RequestHeader;
    try {
      header = readRequestHeader(r);
    } catch (err) {
      throw new CloseConnection(`malformed request header: ${(err as Error).message}`);
    }
    const h = this.byKey.get(header.apiKey);
    const version = header.apiVersion;
    if (!h || version < h.api.minVersion || version > h.api.maxVersion) {
      if (header.apiKey === ApiVersions.key) return { chunks: this.unsupportedApiVersions(header) };
      throw new CloseConnection(
        h
          ? `${h.api.name} v${version} is not supported (supported: v${h.api.minVersion}-v${h.api.maxVersion})`
          : `unknown API key ${header.apiKey}`,
      );
    }
    const flexible = isFlexible(h.api, version);
    let request: unknown;
    try {
      if (flexible) skipHeaderTaggedFields(r);
      request = compile(h.api.request, version, flexible).read(r);
    } catch (err) {
      if (err instanceof MalformedFrameError) {
        throw new CloseConnection(`malformed ${h.api.name} v${version} request: ${err.message}`);
      }
      throw err;
    }
    const startedAt = performance.now();
    const logger = connection.logger;
    let release: (() => void) | undefined;
    const releaseAfterWrite = (fn: () => void) => {
      if (release) throw new Error('releaseAfterWrite called twice for one request');
      release = fn;
    };
    let encoded: Buffer[] | null = null;
    try {
      const response = await h.handle(request as never, { header, connection, logger, releaseAfterWrite });
      if (response !== NO_RESPONSE) {
        // ApiVersions always answers with header v0 so that any client can read it.
        const flexibleHeader = flexible && h.api.key !== ApiVersions.key;
        encoded = encodeResponse(h.api, version, header.correlationId, flexibleHeader, response);
      }
    } catch (err) {
      release?.();
      throw err;
    }
    if (this.observer) {
      let responseBytes = 0;
      for (const chunk of encoded ?? []) responseBytes += chunk.length;
      this.observer.answered(h.api.name, (performance.now() - startedAt) / 1000, frame.length + 4, responseBytes);
    }
    if (encoded === null) {
      release?.();
      return null;
    }
    return { chunks: encoded, release };
  }

  private unsupportedApiVersions(header: RequestHeader): Buffer[] {
    const body = { errorCode: ErrorCode.UNSUPPORTED_VERSION, apiKeys: this.supportedApis(), throttleTimeMs: 0 };
    return encodeResponse(ApiVersions, 0, header.correlationId, false, body);
  }
}

function encodeResponse(
  api: AnyApi,
  version: number,
  correlationId: number,
  flexibleHeader: boolean,
  body: unknown,
): Buffer[] {
  const w = new Writer();
  const setSize = w.placeholderInt32();
  writeResponseHeader(w, correlationId, flexibleHeader);
  compile(api.response, version, isFlexible(api, version)).write(w, body as never);
  setSize(w.length - 4);
  return w.finish();
}
