// A log dir's `meta.properties`, as Kafka writes it: the node id and cluster id that own the
// directory, so a volume mounted on the wrong node, or kept from another cluster, is refused.

import { randomBytes } from 'node:crypto';
import { access, mkdir, readFile, writeFile, rename } from 'node:fs/promises';
import path from 'node:path';

/** Where the single-node broker kept its metadata before the quorum existed. */
const OLD_METADATA_FILE = path.join('__cluster_metadata', 'records.jsonl');

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
  const old = path.join(logDir, OLD_METADATA_FILE);
  if (
    await access(old).then(
      () => true,
      () => false,
    )
  )
    throw new Error(
      `log dir ${logDir} holds metadata in the format of an earlier Runnel (${old}), which this version does not read; start from an empty directory (delete ${logDir} or point log.dirs elsewhere)`,
    );
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
