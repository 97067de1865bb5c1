import { describe, expect, it } from 'vitest';
import { offsetsPartitionFor } from './offsets-topic.js';

describe('the offsets partition of a group', () => {
  it("is Kafka's: Utils.abs(groupId.hashCode()) % 50, negative hashes and Integer.MIN_VALUE included", () => {
    // Computed with kafka-clients 4.1.2 (jshell: Utils.abs(g.hashCode()) % 50).
    const kafka = { 'java-readers': 17, 'kafkajs-readers': 0, polygenelubricants: 0, g: 3, 'console-consumer-1': 24 };
    for (const [groupId, partition] of Object.entries(kafka))
      expect({ groupId, partition: offsetsPartitionFor(groupId, 50) }).toEqual({ groupId, partition });
  });
});
