// Consumer group APIs (classic protocol): wire format in, GroupCoordinator calls out.

import type { BrokerServices } from './services.js';
import { ErrorCode } from '../protocol/errors.js';
import { OFFSETS_TOPIC } from '../groups/offsets-topic.js';
import {
  DeleteGroups,
  DescribeGroups,
  FindCoordinator,
  Heartbeat,
  JoinGroup,
  LeaveGroup,
  ListGroups,
  OffsetCommit,
  OffsetDelete,
  OffsetFetch,
  SyncGroup,
} from '../protocol/messages/index.js';
import { handler, type RequestContext } from './dispatch.js';

const KEY_TYPE_GROUP = 0;
/** JoinGroup v4+ clients expect MEMBER_ID_REQUIRED on their first join (KIP-394). */
const MEMBER_ID_REQUIRED_FROM_VERSION = 4;

function clientHost(ctx: RequestContext): string {
  return `/${ctx.connection.remoteAddress.replace(/:\d+$/, '')}`;
}

async function findCoordinator(broker: BrokerServices, key: string, keyType: number) {
  const none = { key, nodeId: -1, host: '', port: -1 };
  if (keyType !== KEY_TYPE_GROUP) {
    return {
      ...none,
      errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE,
      errorMessage: 'Transactions are not supported yet: there is no transaction coordinator.',
    };
  }
  const ready = await broker.groups.ensureOffsetsTopic();
  if (ready.errorCode !== ErrorCode.NONE) return { ...none, ...ready };
  const coordinatorId = broker.groups.coordinatorOf(key);
  const coordinator = broker.cluster.brokers().find((b) => b.nodeId === coordinatorId);
  if (!coordinator)
    return {
      ...none,
      errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE,
      errorMessage: `The coordinator of group ${key} is not available: its ${OFFSETS_TOPIC} partition has no serving leader yet.`,
    };
  return {
    key,
    nodeId: coordinator.nodeId,
    host: coordinator.host,
    port: coordinator.port,
    errorCode: ErrorCode.NONE,
    errorMessage: null,
  };
}

export const findCoordinatorHandler = (broker: BrokerServices) =>
  handler(FindCoordinator, async (req, ctx) => {
    if (ctx.header.apiVersion >= 4) {
      const coordinators = [];
      for (const key of req.coordinatorKeys) coordinators.push(await findCoordinator(broker, key, req.keyType));
      return { throttleTimeMs: 0, coordinators };
    }
    const c = await findCoordinator(broker, req.key, req.keyType);
    return {
      throttleTimeMs: 0,
      errorCode: c.errorCode,
      errorMessage: c.errorMessage,
      nodeId: c.nodeId,
      host: c.host,
      port: c.port,
    };
  });

export const joinGroupHandler = (broker: BrokerServices) =>
  handler(JoinGroup, async (req, ctx) => {
    const version = ctx.header.apiVersion;
    const result = await broker.groups.join({
      groupId: req.groupId,
      memberId: req.memberId,
      groupInstanceId: req.groupInstanceId,
      sessionTimeoutMs: req.sessionTimeoutMs,
      rebalanceTimeoutMs: version >= 1 ? req.rebalanceTimeoutMs : req.sessionTimeoutMs,
      protocolType: req.protocolType,
      protocols: req.protocols,
      clientId: ctx.header.clientId ?? '',
      clientHost: clientHost(ctx),
      requireKnownMemberId: version >= MEMBER_ID_REQUIRED_FROM_VERSION && req.groupInstanceId === null,
    });
    return { throttleTimeMs: 0, ...result, skipAssignment: false };
  });

export const syncGroupHandler = (broker: BrokerServices) =>
  handler(SyncGroup, async (req) => {
    const result = await broker.groups.sync(
      {
        groupId: req.groupId,
        generationId: req.generationId,
        memberId: req.memberId,
        groupInstanceId: req.groupInstanceId,
      },
      req.protocolType,
      req.protocolName,
      req.assignments,
    );
    return { throttleTimeMs: 0, ...result };
  });

export const heartbeatHandler = (broker: BrokerServices) =>
  handler(Heartbeat, (req) => ({
    throttleTimeMs: 0,
    errorCode: broker.groups.heartbeat({
      groupId: req.groupId,
      generationId: req.generationId,
      memberId: req.memberId,
      groupInstanceId: req.groupInstanceId,
    }),
  }));

export const leaveGroupHandler = (broker: BrokerServices) =>
  handler(LeaveGroup, (req, ctx) => {
    const leaving =
      ctx.header.apiVersion >= 3
        ? req.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId }))
        : [{ memberId: req.memberId, groupInstanceId: null }];
    const result = broker.groups.leave(req.groupId, leaving);
    // Before v3 one member leaves and its error is the response's error.
    const errorCode =
      ctx.header.apiVersion >= 3 ? result.errorCode : (result.members[0]?.errorCode ?? result.errorCode);
    return { throttleTimeMs: 0, errorCode, members: result.members };
  });

export const offsetCommitHandler = (broker: BrokerServices) =>
  handler(OffsetCommit, async (req) => {
    const offsets = req.topics.flatMap((t) =>
      t.partitions.map((p) => ({
        topic: t.name,
        partition: p.partitionIndex,
        offset: p.committedOffset,
        leaderEpoch: p.committedLeaderEpoch,
        metadata: p.committedMetadata,
      })),
    );
    const codes = await broker.groups.commitOffsets(
      {
        groupId: req.groupId,
        generationId: req.generationIdOrMemberEpoch,
        memberId: req.memberId,
        groupInstanceId: req.groupInstanceId,
      },
      offsets,
    );
    let i = 0;
    return {
      throttleTimeMs: 0,
      topics: req.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: codes[i++] })),
      })),
    };
  });

type Wanted = Array<{ name: string; partitionIndexes: number[] }> | null;

function fetchGroupOffsets(broker: BrokerServices, groupId: string, topics: Wanted) {
  const fetched = broker.groups.fetchOffsets(
    groupId,
    topics === null ? null : topics.map((t) => ({ topic: t.name, partitions: t.partitionIndexes })),
  );
  const byTopic = new Map<string, typeof fetched>();
  for (const f of fetched) {
    if (!byTopic.has(f.topic)) byTopic.set(f.topic, []);
    byTopic.get(f.topic)!.push(f);
  }
  return [...byTopic].map(([name, parts]) => ({
    name,
    partitions: parts.map((p) => ({
      partitionIndex: p.partition,
      committedOffset: p.offset,
      committedLeaderEpoch: p.leaderEpoch,
      metadata: p.metadata,
      errorCode: p.errorCode,
    })),
  }));
}

export const offsetFetchHandler = (broker: BrokerServices) =>
  handler(OffsetFetch, (req, ctx) => {
    if (ctx.header.apiVersion >= 8) {
      return {
        throttleTimeMs: 0,
        groups: req.groups.map((g) => ({
          groupId: g.groupId,
          topics: fetchGroupOffsets(broker, g.groupId, g.topics),
          errorCode: ErrorCode.NONE,
        })),
      };
    }
    return { throttleTimeMs: 0, topics: fetchGroupOffsets(broker, req.groupId, req.topics), errorCode: ErrorCode.NONE };
  });

export const offsetDeleteHandler = (broker: BrokerServices) =>
  handler(OffsetDelete, async (req) => {
    const partitions = req.topics.flatMap((t) =>
      t.partitions.map((p) => ({ topic: t.name, partition: p.partitionIndex })),
    );
    const result = await broker.groups.deleteOffsets(req.groupId, partitions);
    let i = 0;
    return {
      errorCode: result.errorCode,
      throttleTimeMs: 0,
      topics:
        result.errorCode === ErrorCode.NONE
          ? req.topics.map((t) => ({
              name: t.name,
              partitions: t.partitions.map((p) => ({
                partitionIndex: p.partitionIndex,
                errorCode: result.codes[i++],
              })),
            }))
          : [],
    };
  });

export const listGroupsHandler = (broker: BrokerServices) =>
  handler(ListGroups, (req) => ({
    throttleTimeMs: 0,
    errorCode: ErrorCode.NONE,
    groups: broker.groups.listGroups(req.statesFilter, req.typesFilter),
  }));

export const describeGroupsHandler = (broker: BrokerServices) =>
  handler(DescribeGroups, (req) => ({
    throttleTimeMs: 0,
    groups: req.groups.map((groupId) => {
      const g = broker.groups.describeGroup(groupId);
      return {
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        groupId,
        groupState: g.state,
        protocolType: g.protocolType,
        protocolData: g.protocolName,
        members: g.members,
      };
    }),
  }));

export const deleteGroupsHandler = (broker: BrokerServices) =>
  handler(DeleteGroups, async (req) => {
    const results = [];
    for (const groupId of req.groupsNames)
      results.push({ groupId, errorCode: await broker.groups.deleteGroup(groupId) });
    return { throttleTimeMs: 0, results };
  });
