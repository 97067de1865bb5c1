import { AddRaftVoter } from './add-raft-voter.js';
import { AllocateProducerIds } from './allocate-producer-ids.js';
import { AlterConfigs } from './alter-configs.js';
import { AlterPartition } from './alter-partition.js';
import { AlterPartitionReassignments } from './alter-partition-reassignments.js';
import { ApiVersions } from './api-versions.js';
import { BeginQuorumEpoch } from './begin-quorum-epoch.js';
import { BrokerHeartbeat } from './broker-heartbeat.js';
import { BrokerRegistration } from './broker-registration.js';
import { CreatePartitions } from './create-partitions.js';
import { CreateTopics } from './create-topics.js';
import { DeleteGroups } from './delete-groups.js';
import { DeleteRecords } from './delete-records.js';
import { DeleteTopics } from './delete-topics.js';
import { DescribeCluster } from './describe-cluster.js';
import { DescribeConfigs } from './describe-configs.js';
import { DescribeGroups } from './describe-groups.js';
import { DescribeLogDirs } from './describe-log-dirs.js';
import { DescribeQuorum } from './describe-quorum.js';
import { ElectLeaders } from './elect-leaders.js';
import { EndQuorumEpoch } from './end-quorum-epoch.js';
import { Fetch } from './fetch.js';
import { FetchSnapshot } from './fetch-snapshot.js';
import { FindCoordinator } from './find-coordinator.js';
import { Heartbeat } from './heartbeat.js';
import { IncrementalAlterConfigs } from './incremental-alter-configs.js';
import { InitProducerId } from './init-producer-id.js';
import { JoinGroup } from './join-group.js';
import { LeaveGroup } from './leave-group.js';
import { ListGroups } from './list-groups.js';
import { ListOffsets } from './list-offsets.js';
import { ListPartitionReassignments } from './list-partition-reassignments.js';
import { Metadata } from './metadata.js';
import { OffsetCommit } from './offset-commit.js';
import { OffsetDelete } from './offset-delete.js';
import { OffsetFetch } from './offset-fetch.js';
import { OffsetForLeaderEpoch } from './offset-for-leader-epoch.js';
import { Produce } from './produce.js';
import { RemoveRaftVoter } from './remove-raft-voter.js';
import { SyncGroup } from './sync-group.js';
import { UnregisterBroker } from './unregister-broker.js';
import { Vote } from './vote.js';

export {
  AddRaftVoter,
  AllocateProducerIds,
  AlterConfigs,
  AlterPartition,
  AlterPartitionReassignments,
  ApiVersions,
  BeginQuorumEpoch,
  BrokerHeartbeat,
  BrokerRegistration,
  CreatePartitions,
  CreateTopics,
  DeleteGroups,
  DeleteRecords,
  DeleteTopics,
  DescribeCluster,
  DescribeConfigs,
  DescribeGroups,
  DescribeLogDirs,
  DescribeQuorum,
  ElectLeaders,
  EndQuorumEpoch,
  Fetch,
  FetchSnapshot,
  FindCoordinator,
  Heartbeat,
  IncrementalAlterConfigs,
  InitProducerId,
  JoinGroup,
  LeaveGroup,
  ListGroups,
  ListOffsets,
  ListPartitionReassignments,
  Metadata,
  OffsetCommit,
  OffsetDelete,
  OffsetFetch,
  OffsetForLeaderEpoch,
  Produce,
  RemoveRaftVoter,
  SyncGroup,
  UnregisterBroker,
  Vote,
};

/**
 * Every message definition, in api-key order: those clients send, and the inter-node ones
 * (KRaft quorum, broker registration, ISR changes) and admin ones a broker may not serve yet.
 * Defining a message does not serve it: what a broker serves, and ApiVersions advertises, is
 * its handler table (broker/api/handlers.ts).
 */
export const ALL_APIS = [
  Produce,
  Fetch,
  ListOffsets,
  Metadata,
  OffsetCommit,
  OffsetFetch,
  FindCoordinator,
  JoinGroup,
  Heartbeat,
  LeaveGroup,
  SyncGroup,
  DescribeGroups,
  ListGroups,
  ApiVersions,
  CreateTopics,
  DeleteTopics,
  DeleteRecords,
  InitProducerId,
  OffsetForLeaderEpoch,
  DescribeConfigs,
  AlterConfigs,
  DescribeLogDirs,
  CreatePartitions,
  DeleteGroups,
  ElectLeaders,
  IncrementalAlterConfigs,
  AlterPartitionReassignments,
  ListPartitionReassignments,
  OffsetDelete,
  Vote,
  BeginQuorumEpoch,
  EndQuorumEpoch,
  DescribeQuorum,
  AlterPartition,
  FetchSnapshot,
  DescribeCluster,
  BrokerRegistration,
  BrokerHeartbeat,
  UnregisterBroker,
  AllocateProducerIds,
  AddRaftVoter,
  RemoveRaftVoter,
] as const;
