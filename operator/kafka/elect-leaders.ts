// ElectLeaders (api key 43) v2, which @platformatic/kafka does not define: built from the client's
// own request/response primitives (createAPI, Writer, Reader) as its unregister-broker-v0 is, from
// Kafka's ElectLeadersRequest.json / ElectLeadersResponse.json (v2 is the first flexible version).

import { ResponseError, Writer, createAPI, type Reader } from '@platformatic/kafka';

/** Kafka's ElectionType: the preferred replica (the first of the replicas list). */
export const PREFERRED_ELECTION = 0;
/** Kafka's ElectionType: any live replica, when no in-sync replica is left (may lose records). */
export const UNCLEAN_ELECTION = 1;

export interface ElectLeadersRequestTopic {
  topic: string;
  partitions: number[];
}

export interface ElectLeadersPartitionResult {
  partitionId: number;
  errorCode: number;
  errorMessage: string | null;
}

export interface ElectLeadersResponse {
  throttleTimeMs: number;
  errorCode: number;
  replicaElectionResults: { topic: string; partitionResult: ElectLeadersPartitionResult[] }[];
}

/*
  ElectLeaders Request (Version: 2) => election_type [topic_partitions] timeout_ms TAG_BUFFER
    election_type => INT8
    topic_partitions => topic [partitions] TAG_BUFFER   (nullable: null elects every partition)
      topic => COMPACT_STRING
      partitions => INT32
    timeout_ms => INT32
*/
export function createRequest(
  electionType: number,
  topicPartitions: readonly ElectLeadersRequestTopic[] | null,
  timeoutMs: number,
): Writer {
  return Writer.create()
    .appendInt8(electionType)
    .appendArray(topicPartitions as ElectLeadersRequestTopic[] | null, (w, t) => {
      w.appendString(t.topic).appendArray(t.partitions, (w, p) => w.appendInt32(p), true, false);
    })
    .appendInt32(timeoutMs)
    .appendTaggedFields();
}

/*
  ElectLeaders Response (Version: 2) => throttle_time_ms error_code [replica_election_results] TAG_BUFFER
    throttle_time_ms => INT32
    error_code => INT16
    replica_election_results => topic [partition_result] TAG_BUFFER
      topic => COMPACT_STRING
      partition_result => partition_id error_code error_message TAG_BUFFER
        partition_id => INT32
        error_code => INT16
        error_message => COMPACT_NULLABLE_STRING

  Only a top-level error throws (a ResponseError carrying the answer): the partitions' own errors
  (ELECTION_NOT_NEEDED among them) are results, for the caller to read.
*/
export function parseResponse(
  _correlationId: number,
  apiKey: number,
  apiVersion: number,
  reader: Reader,
): ElectLeadersResponse {
  const response: ElectLeadersResponse = {
    throttleTimeMs: reader.readInt32(),
    errorCode: reader.readInt16(),
    replicaElectionResults: reader.readArray((r) => ({
      topic: r.readString(),
      partitionResult: r.readArray((r) => ({
        partitionId: r.readInt32(),
        errorCode: r.readInt16(),
        errorMessage: r.readNullableString(),
      })),
    })),
  };
  if (response.errorCode !== 0)
    throw new ResponseError(apiKey, apiVersion, { '/': [response.errorCode, null] }, response);
  return response;
}

export const api = createAPI<
  [electionType: number, topicPartitions: readonly ElectLeadersRequestTopic[] | null, timeoutMs: number],
  ElectLeadersResponse
>(43, 2, createRequest, parseResponse);
