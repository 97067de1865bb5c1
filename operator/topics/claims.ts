// Two KafkaTopics may name the same Kafka topic of the same cluster. The older one owns it; the
// other is reported as a conflict and never touches the topic.

import { topicNameOf, type KafkaTopic } from '../api/types.js';

/** The KafkaTopic, other than `topic`, that owns `topic`'s Kafka topic because it is older; if any. */
export function olderClaimant(topic: KafkaTopic, all: readonly KafkaTopic[]): KafkaTopic | undefined {
  const name = topicNameOf(topic);
  let owner: KafkaTopic | undefined;
  for (const t of all) {
    const rival =
      t.metadata.uid !== topic.metadata.uid &&
      t.metadata.namespace === topic.metadata.namespace &&
      t.spec.cluster === topic.spec.cluster &&
      topicNameOf(t) === name;
    if (rival && isOlder(t, owner ?? topic)) owner = t;
  }
  return owner;
}

/** Creation time, then name, so that two resources created in the same second still order. */
function isOlder(a: KafkaTopic, b: KafkaTopic): boolean {
  const ta = a.metadata.creationTimestamp ?? '';
  const tb = b.metadata.creationTimestamp ?? '';
  return ta !== tb ? ta < tb : a.metadata.name < b.metadata.name;
}
