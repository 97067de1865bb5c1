// A leader's ISR changes go to the active controller as AlterPartition requests (Kafka's
// AlterPartitionManager): changes asked for while one request is out are sent together in the
// next, one at a time, and the controller's answer (or the metadata that follows it) settles each
// partition's pending ISR.

import type { Logger } from 'pino';
import type { AlterPartition } from '../protocol/messages/index.js';
import { ErrorCode, errorName } from '../protocol/errors.js';
import type { DecodedResponseOf, RequestOf } from '../protocol/schema.js';
import type { MetadataImage } from '../metadata/image.js';
import type { Partition } from './partition.js';

export type AlterPartitionRequest = RequestOf<typeof AlterPartition>;
type AlterPartitionResponse = DecodedResponseOf<typeof AlterPartition>;
const LEADER_RECOVERED = 0;

export type SendAlterPartition = (body: AlterPartitionRequest) => Promise<AlterPartitionResponse>;

export class IsrUpdates {
  private readonly queued = new Map<string, { partition: Partition; newIsr: number[] }>();
  private sending = false;

  constructor(
    private readonly nodeId: number,
    private readonly brokerEpoch: () => number,
    private readonly image: MetadataImage,
    private readonly send: SendAlterPartition,
    /** Told after an accepted change was taken into the partition's state. */
    private readonly changed: (partition: Partition) => void,
    private readonly logger: Logger,
  ) {}

  /** Asks for `newIsr` unless a change of this partition is already out. */
  propose(partition: Partition, newIsr: number[]): void {
    if (partition.pendingIsr || this.queued.has(partition.key)) return;
    partition.pendingIsr = newIsr;
    this.queued.set(partition.key, { partition, newIsr });
    if (!this.sending) void this.sendQueued();
  }

  private async sendQueued(): Promise<void> {
    this.sending = true;
    try {
      while (this.queued.size > 0) {
        const items = [...this.queued.values()];
        this.queued.clear();
        await this.sendOne(items);
      }
    } finally {
      this.sending = false;
    }
  }

  private async sendOne(items: { partition: Partition; newIsr: number[] }[]): Promise<void> {
    const byTopic = new Map<string, typeof items>();
    for (const it of items) byTopic.set(it.partition.topic.id, [...(byTopic.get(it.partition.topic.id) ?? []), it]);
    const body: AlterPartitionRequest = {
      brokerId: this.nodeId,
      brokerEpoch: this.brokerEpoch(),
      topics: [...byTopic].map(([topicId, its]) => ({
        topicId,
        partitions: its.map(({ partition, newIsr }) => ({
          partitionIndex: partition.state.partition,
          leaderEpoch: partition.state.leaderEpoch,
          newIsr,
          newIsrWithEpochs: newIsr.map((id) => ({ brokerId: id, brokerEpoch: this.image.broker(id)?.epoch ?? -1 })),
          leaderRecoveryState: LEADER_RECOVERED,
          partitionEpoch: partition.state.partitionEpoch,
        })),
      })),
    };
    let res: AlterPartitionResponse;
    try {
      res = await this.send(body);
    } catch (err) {
      this.logger.warn({ err }, 'AlterPartition failed; the ISR change is asked again at the next check');
      for (const it of items) if (it.partition.pendingIsr === it.newIsr) it.partition.pendingIsr = undefined;
      return;
    }
    for (const it of items) {
      const { partition, newIsr } = it;
      const answer = res.topics
        .find((t) => t.topicId === partition.topic.id)
        ?.partitions.find((p) => p.partitionIndex === partition.state.partition);
      if (partition.pendingIsr !== newIsr) continue;
      partition.pendingIsr = undefined;
      const errorCode =
        res.errorCode !== ErrorCode.NONE ? res.errorCode : (answer?.errorCode ?? ErrorCode.UNKNOWN_SERVER_ERROR);
      if (errorCode !== ErrorCode.NONE) {
        this.logger.info(
          { topic: partition.topic.name, partition: partition.state.partition, newIsr, error: errorName(errorCode) },
          'the controller refused an ISR change',
        );
        continue;
      }
      // The metadata brings the same change; taking it now lets the high watermark use it at once.
      if (answer && answer.partitionEpoch > partition.state.partitionEpoch) {
        partition.state = { ...partition.state, isr: answer.isr, partitionEpoch: answer.partitionEpoch };
        this.changed(partition);
      }
      this.logger.info(
        { topic: partition.topic.name, partition: partition.state.partition, isr: partition.state.isr },
        'ISR changed',
      );
    }
  }
}
