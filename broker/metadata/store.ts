// Durable metadata for the single-node broker: metadata records appended as JSON lines to
// `<log dir>/__cluster_metadata/records.jsonl` and fsynced before a change is acknowledged.
// Replaying the file rebuilds the image at start-up. A torn last line (crash mid-write) is
// dropped: its change was never acknowledged.
//
// The image holds only what is durable: records are applied after every byte of them was
// written and fsynced. A failed or short write (a full disk) fails the change and cuts the file
// back to its last whole record, so the next change does not land behind a torn line.

import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, truncate, writeFile, rename } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { MetadataImage, type MetadataRecord } from './image.js';

const METADATA_DIR = '__cluster_metadata';
const RECORDS_FILE = 'records.jsonl';

export class MetadataStore {
  private queue: Promise<void> = Promise.resolve();

  private constructor(
    readonly image: MetadataImage,
    private readonly file: string,
    /** Bytes of whole, durable records in the file. */
    private durableBytes: number,
  ) {}

  static async open(logDir: string, logger: Logger): Promise<MetadataStore> {
    const dir = path.join(logDir, METADATA_DIR);
    await mkdir(dir, { recursive: true });
    const file = path.join(dir, RECORDS_FILE);
    await writeFile(file, '', { flag: 'a' });
    const image = new MetadataImage();
    const text = await readFile(file, 'utf8');
    let validBytes = 0;
    let count = 0;
    for (const line of text.split('\n')) {
      if (line === '') break;
      let record: MetadataRecord;
      try {
        record = JSON.parse(line) as MetadataRecord;
      } catch {
        break;
      }
      image.apply(record);
      validBytes += Buffer.byteLength(line) + 1;
      count++;
    }
    if (validBytes < Buffer.byteLength(text)) {
      logger.warn({ file, validBytes }, 'dropping a torn metadata record at the end of the metadata log');
      await truncate(file, validBytes);
    }
    logger.info({ records: count }, 'metadata loaded');
    return new MetadataStore(image, file, validBytes);
  }

  /** Persists the records (fsync), then applies them to the image. */
  append(records: MetadataRecord[]): Promise<void> {
    const run = this.queue.then(async () => {
      const bytes = Buffer.from(records.map((r) => JSON.stringify(r) + '\n').join(''));
      const fh = await open(this.file, 'r+');
      try {
        // A change that failed earlier may have left part of itself behind.
        await fh.truncate(this.durableBytes);
        for (let written = 0; written < bytes.length;) {
          const { bytesWritten } = await fh.write(bytes, written, bytes.length - written, this.durableBytes + written);
          if (bytesWritten === 0) throw new Error(`short write to ${this.file}: the disk may be full`);
          written += bytesWritten;
        }
        await fh.sync();
      } catch (err) {
        await fh.truncate(this.durableBytes).catch(() => undefined);
        throw err;
      } finally {
        await fh.close();
      }
      this.durableBytes += bytes.length;
      for (const r of records) this.image.apply(r);
    });
    this.queue = run.catch(() => undefined);
    return run;
  }
}

export interface MetaProperties {
  nodeId: number;
  clusterId: string;
}

/** A new cluster id in Kafka's format: 16 random bytes, base64url. */
export function newClusterId(): string {
  return randomBytes(16).toString('base64url');
}

/**
 * Reads `meta.properties` of a log dir, writing it on first use. A log dir that belongs to
 * another node is refused, so a volume mounted on the wrong broker cannot be served.
 */
export async function claimLogDir(
  logDir: string,
  nodeId: number,
  clusterId: string | undefined,
): Promise<MetaProperties> {
  await mkdir(logDir, { recursive: true });
  const file = path.join(logDir, 'meta.properties');
  let text: string | undefined;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (text !== undefined) {
    const props = new Map(
      text
        .split('\n')
        .filter((l) => l.includes('=') && !l.startsWith('#'))
        .map((l) => [l.slice(0, l.indexOf('=')).trim(), l.slice(l.indexOf('=') + 1).trim()]),
    );
    const storedNode = Number(props.get('node.id'));
    const storedCluster = props.get('cluster.id') ?? '';
    if (storedNode !== nodeId) {
      throw new Error(
        `log dir ${logDir} belongs to node.id=${storedNode}, but this broker is node.id=${nodeId}; point log.dirs at this broker's own directory`,
      );
    }
    if (clusterId !== undefined && storedCluster !== clusterId) {
      throw new Error(
        `log dir ${logDir} holds data of cluster ${storedCluster}, not ${clusterId}; use an empty directory or the right cluster id`,
      );
    }
    return { nodeId, clusterId: storedCluster };
  }
  const id = clusterId ?? newClusterId();
  const tmp = `${file}.tmp`;
  await writeFile(
    tmp,
    `#Written by Runnel\nversion=1\nnode.id=${nodeId}\ncluster.id=${id}\ndirectory.id=${newClusterId()}\n`,
  );
  await rename(tmp, file);
  return { nodeId, clusterId: id };
}
