// Endpoint structs that the quorum messages share (Kafka repeats them in each message's JSON).

import { int32, string, struct, uint16 } from './schema.js';

/** A named listener of a node: Kafka's Listener / LeaderEndpoint structs. */
export const listenerEndpoint = struct({
  name: string,
  host: string,
  port: uint16,
});

/** Where to reach a node, carried with leader changes: Kafka's NodeEndpoint struct. */
export const nodeEndpoint = struct({
  nodeId: int32,
  host: string,
  port: uint16,
});
