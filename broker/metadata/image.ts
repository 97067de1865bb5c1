// The cluster metadata image: what every broker knows about topics, partitions and configs.
// It changes only by applying metadata records, so the same records can later come from a
// Raft-replicated log instead of the local file that the single-node broker keeps.

export interface PartitionState {
  partition: number;
  leader: number;
  leaderEpoch: number;
  replicas: number[];
  isr: number[];
}

export interface TopicState {
  name: string;
  id: string;
  partitions: PartitionState[];
  /** Topic-level overrides only; defaults come from the broker config. */
  configs: Map<string, string>;
}

export type MetadataRecord =
  | { type: 'topic'; name: string; topicId: string }
  | ({ type: 'partition'; topicId: string } & PartitionState)
  | { type: 'config'; topic: string; name: string; value: string | null }
  | { type: 'remove-topic'; topicId: string }
  /** A block of producer ids handed to a broker: ids below nextProducerId are taken (Kafka's ProducerIdsRecord). */
  | { type: 'producer-ids'; nodeId: number; nextProducerId: number };

export class MetadataImage {
  private readonly byName = new Map<string, TopicState>();
  private readonly byId = new Map<string, TopicState>();
  /** The first producer id no broker has been given yet. */
  nextProducerId = 0;

  topic(name: string): TopicState | undefined {
    return this.byName.get(name);
  }
  topicById(id: string): TopicState | undefined {
    return this.byId.get(id);
  }
  topics(): IterableIterator<TopicState> {
    return this.byName.values();
  }

  apply(record: MetadataRecord): void {
    switch (record.type) {
      case 'topic': {
        const topic: TopicState = { name: record.name, id: record.topicId, partitions: [], configs: new Map() };
        this.byName.set(record.name, topic);
        this.byId.set(record.topicId, topic);
        break;
      }
      case 'partition': {
        const topic = this.byId.get(record.topicId);
        if (!topic) throw new Error(`partition record for unknown topic id ${record.topicId}`);
        const { partition, leader, leaderEpoch, replicas, isr } = record;
        topic.partitions[partition] = { partition, leader, leaderEpoch, replicas, isr };
        break;
      }
      case 'config': {
        const target = this.byName.get(record.topic)?.configs;
        if (!target) throw new Error(`config record for unknown topic ${record.topic}`);
        if (record.value === null) target.delete(record.name);
        else target.set(record.name, record.value);
        break;
      }
      case 'remove-topic': {
        const topic = this.byId.get(record.topicId);
        if (topic) {
          this.byId.delete(topic.id);
          this.byName.delete(topic.name);
        }
        break;
      }
      case 'producer-ids':
        this.nextProducerId = Math.max(this.nextProducerId, record.nextProducerId);
        break;
    }
  }
}
