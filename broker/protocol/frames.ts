// The client's side of Kafka's framing: a request frame (size prefix, request header v1/v2, body)
// and the decoding of a response frame (response header v0/v1, body). Shared by the broker's own
// inter-node client (broker/net/node-client.ts) and the tests' raw client (broker/test/raw-client.ts).
// A response decodes only if it uses the whole frame, so a codec that reads too little or too
// much fails loudly instead of passing silently.

import { skipHeaderTaggedFields, writeRequestHeader } from './header.js';
import { ApiVersions } from './messages/api-versions.js';
import {
  compile,
  isFlexible,
  type ApiDefinition,
  type Decoded,
  type DecodedResponseOf,
  type Fields,
  type Input,
} from './schema.js';
import { Reader, Writer } from './wire.js';

export type AnyApi = ApiDefinition<Fields, Fields>;
export type RequestInputOf<A> = A extends ApiDefinition<infer Req, Fields> ? Input<Req> : never;

/** The whole request frame, 4-byte size prefix included. */
export function encodeRequestFrame<Req extends Fields, Res extends Fields>(
  api: ApiDefinition<Req, Res>,
  version: number,
  body: Input<Req>,
  header: { correlationId: number; clientId: string | null },
): Buffer {
  const flexible = isFlexible(api, version);
  const w = new Writer();
  const setSize = w.placeholderInt32();
  writeRequestHeader(
    w,
    { apiKey: api.key, apiVersion: version, correlationId: header.correlationId, clientId: header.clientId },
    flexible,
  );
  compile(api.request, version, flexible).write(w, body);
  setSize(w.length - 4);
  return w.toBuffer();
}

/**
 * Whether the response to this API at this version uses response header v1 (tagged fields).
 * ApiVersions always answers with header v0, so a client can read it before it knows versions.
 */
export function hasFlexibleResponseHeader(
  api: { key: number; flexibleFrom: number | undefined },
  version: number,
): boolean {
  return isFlexible(api, version) && api.key !== ApiVersions.key;
}

export interface DecodedResponse<A> {
  correlationId: number;
  body: DecodedResponseOf<A>;
}

/** The correlation id a response frame (size prefix removed) starts with. */
export function responseCorrelationId(frame: Buffer): number {
  return new Reader(frame).int32();
}

/**
 * Decodes a response frame (size prefix already removed) of `api` at `version`; throws unless
 * every byte is used.
 */
export function decodeResponseFrame<A extends AnyApi>(api: A, version: number, frame: Buffer): DecodedResponse<A> {
  const r = new Reader(frame);
  const correlationId = r.int32();
  if (hasFlexibleResponseHeader(api, version)) skipHeaderTaggedFields(r);
  const body = compile(api.response, version, isFlexible(api, version)).read(r);
  if (r.remaining !== 0) throw new Error(`${r.remaining} bytes left after ${api.name} v${version} response`);
  return { correlationId, body: body as DecodedResponseOf<A> };
}

/** Kafka's UNSUPPORTED_VERSION; an ApiVersions answer with it is encoded at v0 whatever was asked. */
const UNSUPPORTED_VERSION = 35;

/**
 * Decodes an ApiVersions response sent to a request of `version`. A broker that does not know
 * that version answers UNSUPPORTED_VERSION encoded as v0, with the versions it does know, so
 * the error code (the first field in every version) decides how to read the rest.
 */
export function decodeApiVersionsResponse(
  version: number,
  frame: Buffer,
): { correlationId: number; body: Decoded<(typeof ApiVersions.response)['fields']>; version: number } {
  const errorCode = frame.length >= 6 ? frame.readInt16BE(4) : 0;
  const used = errorCode === UNSUPPORTED_VERSION ? 0 : version;
  const { correlationId, body } = decodeResponseFrame(ApiVersions, used, frame);
  return { correlationId, body, version: used };
}
