// What a request may make a connection hold before its response is known: its own frame, and
// for a Fetch the response it asks for. Every other response is small next to its request or
// bounded by the cluster's metadata; a Fetch response is sized by the data (a few bytes of
// request can bring back a whole partition), so 200 pipelined Fetches of a large topic must
// not all be read into memory at once. A Fetch is charged what it may return: its maxBytes, or
// less when its partitions' partitionMaxBytes add up to less. (KIP-74 lets the first batch
// overshoot both by up to one batch; the budget counts the real size once it is answered.)

import { readRequestHeader, skipHeaderTaggedFields } from '../protocol/header.js';
import { Fetch } from '../protocol/messages/index.js';
import { compile, isFlexible } from '../protocol/schema.js';
import { Reader } from '../protocol/wire.js';

/**
 * Bytes to charge a request frame (size prefix removed) until it is answered. A Fetch that
 * cannot be decoded is charged `unknownFetchBytes`: the dispatcher will close its connection,
 * and until then it is assumed to be large.
 */
export function requestCostBytes(frame: Buffer, unknownFetchBytes: number): number {
  if (frame.length < 2 || frame.readInt16BE(0) !== Fetch.key) return frame.length;
  return frame.length + Math.min(fetchResponseBytes(frame) ?? unknownFetchBytes, unknownFetchBytes);
}

function fetchResponseBytes(frame: Buffer): number | undefined {
  try {
    const r = new Reader(frame);
    const { apiVersion } = readRequestHeader(r);
    if (apiVersion < Fetch.minVersion || apiVersion > Fetch.maxVersion) return undefined;
    const flexible = isFlexible(Fetch, apiVersion);
    if (flexible) skipHeaderTaggedFields(r);
    const request = compile(Fetch.request, apiVersion, flexible).read(r);
    let partitionBytes = 0;
    for (const t of request.topics) for (const p of t.partitions) partitionBytes += Math.max(p.partitionMaxBytes, 0);
    return Math.min(Math.max(request.maxBytes, 0), partitionBytes);
  } catch {
    return undefined;
  }
}
