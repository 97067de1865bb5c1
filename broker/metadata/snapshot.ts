// KRaft metadata snapshots: `<20-digit end offset>-<10-digit epoch>.checkpoint` in
// `__cluster_metadata-0/`, in Kafka's format (RecordsSnapshotWriter), so that
// `kafka-dump-log.sh --cluster-metadata-decoder` reads them and Kafka could load them:
//
//   a control batch holding one SNAPSHOT_HEADER (3) control record: SnapshotHeaderRecord v0
//   data batches of metadata records (MetadataRecordSerde framing, as in the log)
//   a control batch holding one SNAPSHOT_FOOTER (4) control record: SnapshotFooterRecord v0
//
// Offsets inside a snapshot count from 0; every batch carries the snapshot id's epoch. With a
// static voter set (kraft.version 0) Kafka writes no KRAFT_VERSION or KRAFT_VOTERS records, and
// neither do we. The records are the image written back (Kafka's MetadataImage.write order):
// metadata.version first, then brokers (RegisterBrokerRecord with the current fence and
// controlled-shutdown state), topics (TopicRecord, then a PartitionRecord per partition), topic
// configs and dynamic broker configs (ConfigRecord) and the producer-id block (ProducerIdsRecord).
// Replaying them into an empty image rebuilds the image the snapshot was taken of.

import type { MetadataImage } from './image.js';
import { ConfigResourceType } from './image.js';
import { decodeMetadataRecord, encodeMetadataRecord, MetadataRecordError, type MetadataRecord } from './records.js';
import {
  buildRecordBatch,
  decodeRecords,
  isControlBatch,
  readBatchHeader,
  scanBatches,
} from '../protocol/record-batch.js';
import { compile, int16, int64, struct } from '../protocol/schema.js';
import { Reader, Writer } from '../protocol/wire.js';

/** SnapshotHeaderRecord and SnapshotFooterRecord (common/message in kafka-clients), both flexible v0. */
export const SnapshotHeaderRecord = struct({ version: int16, lastContainedLogTimestamp: int64 });
export const SnapshotFooterRecord = struct({ version: int16 });
const SNAPSHOT_RECORD_VERSION = 0;
const SNAPSHOT_HEADER_TYPE = 3;
const SNAPSHOT_FOOTER_TYPE = 4;
/** Records per data batch (Kafka batches by bytes, up to 8 MiB; any split reads the same). */
const RECORDS_PER_BATCH = 1000;

export interface SnapshotId {
  /** The end offset (exclusive): the snapshot holds every entry below it. */
  offset: number;
  /** The epoch of the last entry it holds. */
  epoch: number;
}

const FILE_SUFFIX = '.checkpoint';
const NAME = /^(\d{20})-(\d{10})\.checkpoint$/;

/** Kafka's Snapshots.filenameFromSnapshotId: `00000000000000001234-0000000005.checkpoint`. */
export function snapshotFileName(id: SnapshotId): string {
  return `${String(id.offset).padStart(20, '0')}-${String(id.epoch).padStart(10, '0')}${FILE_SUFFIX}`;
}

/** The snapshot id a file name stands for, undefined for any other file (a `.checkpoint.part` too). */
export function parseSnapshotFileName(name: string): SnapshotId | undefined {
  const m = NAME.exec(name);
  return m ? { offset: Number(m[1]), epoch: Number(m[2]) } : undefined;
}

/** The image as the records that rebuild it, in Kafka's order. */
export function imageRecords(image: MetadataImage): MetadataRecord[] {
  const out: MetadataRecord[] = [];
  if (image.metadataVersion > 0)
    out.push({ type: 'FeatureLevelRecord', name: 'metadata.version', featureLevel: image.metadataVersion });
  for (const b of [...image.brokers()].sort((x, y) => x.id - y.id))
    out.push({ ...b.record, fenced: b.fenced, inControlledShutdown: b.inControlledShutdown });
  const topics = [...image.topics()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const t of topics) {
    out.push({ type: 'TopicRecord', name: t.name, topicId: t.id });
    for (const p of t.partitions) {
      if (!p) continue;
      out.push({
        type: 'PartitionRecord',
        partitionId: p.partition,
        topicId: t.id,
        replicas: [...p.replicas],
        isr: [...p.isr],
        removingReplicas: [...p.removingReplicas],
        addingReplicas: [...p.addingReplicas],
        leader: p.leader,
        leaderRecoveryState: p.leaderRecoveryState,
        leaderEpoch: p.leaderEpoch,
        partitionEpoch: p.partitionEpoch,
        directories: [],
      });
    }
  }
  for (const t of topics) {
    for (const [name, value] of [...t.configs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      out.push({ type: 'ConfigRecord', resourceType: ConfigResourceType.TOPIC, resourceName: t.name, name, value });
  }
  for (const resourceName of image.brokerConfigResources().sort()) {
    for (const [name, value] of [...image.brokerConfigs(resourceName)].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      out.push({ type: 'ConfigRecord', resourceType: ConfigResourceType.BROKER, resourceName, name, value });
  }
  if (image.nextProducerId > 0)
    out.push({ type: 'ProducerIdsRecord', brokerId: -1, brokerEpoch: -1, nextProducerId: image.nextProducerId });
  return out;
}

function controlKey(type: number): Buffer {
  const key = Buffer.alloc(4);
  key.writeInt16BE(0, 0);
  key.writeInt16BE(type, 2);
  return key;
}

/** A whole snapshot file: header, the records, footer; `timestampMs` stamps the batches and the header. */
export function encodeSnapshot(records: readonly MetadataRecord[], epoch: number, timestampMs: number): Buffer {
  const batches: Buffer[] = [];
  let offset = 0;
  const control = (type: number, value: Buffer) => {
    batches.push(
      buildRecordBatch({
        baseOffset: offset++,
        partitionLeaderEpoch: epoch,
        isControl: true,
        records: [{ key: controlKey(type), value, timestampMs }],
      }),
    );
  };
  const header = new Writer(16);
  compile(SnapshotHeaderRecord.struct, SNAPSHOT_RECORD_VERSION, true).write(header, {
    version: SNAPSHOT_RECORD_VERSION,
    lastContainedLogTimestamp: timestampMs,
  });
  control(SNAPSHOT_HEADER_TYPE, header.toBuffer());
  for (let i = 0; i < records.length; i += RECORDS_PER_BATCH) {
    const chunk = records.slice(i, i + RECORDS_PER_BATCH);
    batches.push(
      buildRecordBatch({
        baseOffset: offset,
        partitionLeaderEpoch: epoch,
        records: chunk.map((r) => ({ key: null, value: encodeMetadataRecord(r), timestampMs })),
      }),
    );
    offset += chunk.length;
  }
  const footer = new Writer(8);
  compile(SnapshotFooterRecord.struct, SNAPSHOT_RECORD_VERSION, true).write(footer, {
    version: SNAPSHOT_RECORD_VERSION,
  });
  control(SNAPSHOT_FOOTER_TYPE, footer.toBuffer());
  return Buffer.concat(batches);
}

/**
 * The metadata records of a snapshot file. Throws MetadataRecordError unless it is whole: valid
 * batches (CRC), a SnapshotHeader first, a SnapshotFooter last, records that decode.
 */
export function decodeSnapshot(bytes: Buffer): MetadataRecord[] {
  const scan = scanBatches(bytes, 0, { minBaseOffset: 0, maxLastOffset: Number.MAX_SAFE_INTEGER });
  if (scan.stop !== 'end') throw new MetadataRecordError(`snapshot is corrupt or cut short at byte ${scan.end}`);
  const records: MetadataRecord[] = [];
  let sawHeader = false;
  let sawFooter = false;
  for (const b of scan.batches) {
    const batch = bytes.subarray(b.position, b.position + b.size);
    const h = readBatchHeader(batch, 0);
    if (sawFooter) throw new MetadataRecordError('snapshot has batches after its SnapshotFooter');
    for (const rec of decodeRecords(batch)) {
      if (isControlBatch(h)) {
        const type = rec.key && rec.key.length >= 4 ? rec.key.readInt16BE(2) : -1;
        if (type === SNAPSHOT_HEADER_TYPE && !sawHeader && records.length === 0) {
          readControl(SnapshotHeaderRecord, rec.value);
          sawHeader = true;
        } else if (type === SNAPSHOT_FOOTER_TYPE && sawHeader) {
          readControl(SnapshotFooterRecord, rec.value);
          sawFooter = true;
        } else if (type !== 5 && type !== 6) {
          // KRAFT_VERSION (5) and KRAFT_VOTERS (6) would come from a dynamic quorum: nothing to load here.
          throw new MetadataRecordError(`unexpected control record of type ${type} in a snapshot`);
        }
        continue;
      }
      if (!sawHeader) throw new MetadataRecordError('snapshot does not start with a SnapshotHeader');
      if (rec.value === null) throw new MetadataRecordError(`snapshot record at ${rec.offset} has no value`);
      records.push(decodeMetadataRecord(rec.value));
    }
  }
  if (!sawHeader || !sawFooter) throw new MetadataRecordError('snapshot lacks its SnapshotHeader or SnapshotFooter');
  return records;
}

function readControl(s: typeof SnapshotHeaderRecord | typeof SnapshotFooterRecord, value: Buffer | null): void {
  if (value === null) throw new MetadataRecordError('snapshot control record without a value');
  const r = new Reader(value);
  const decoded = compile(s.struct as typeof SnapshotFooterRecord.struct, SNAPSHOT_RECORD_VERSION, true).read(r);
  if (decoded.version !== SNAPSHOT_RECORD_VERSION)
    throw new MetadataRecordError(`snapshot control record version ${decoded.version}`);
}
