// InitProducerId for idempotent producers: producer ids that are unique across restarts, and
// epoch bumps (KIP-360).
//
// Ids come in blocks from the active controller (AllocateProducerIds), which records each block
// in the metadata log (a ProducerIdsRecord) before handing it out; a restart takes the next
// block, so ids are never reused across brokers or restarts (at most a block's rest is skipped).
//
// A request that names its current producer id and epoch (v3+) asks for the epoch to be bumped:
// if the epoch is the current one, the same id comes back with the next epoch (and the
// partitions then require the new epoch to start at sequence 0); a retry of that request (the
// previous epoch) gets the bumped epoch again; any other epoch is INVALID_PRODUCER_EPOCH. An id
// this broker does not know (forgotten, or never its own) gets a fresh id, as Kafka gives every
// non-transactional InitProducerId. The current epoch of an id comes from this broker's memory
// of what it handed out, else from the partitions' producer state (after a restart).
//
// Producer id 0 is never handed out: @platformatic/kafka sends producer id 0 with epoch 0 in its
// first InitProducerId, which must get a fresh id (as from Kafka), not a bump of someone else's.

import type { Logger } from 'pino';
import { ErrorCode } from '../protocol/errors.js';
import type { LogManager } from '../log/log-manager.js';

/** Asks the active controller for the next block of producer ids. */
export type AllocateBlock = () => Promise<{ start: number; length: number }>;

/** Short.MAX_VALUE: an id whose epoch would pass it is replaced by a new id, as Kafka does. */
const MAX_PRODUCER_EPOCH = 32767;
/** Producer ids whose epochs are remembered; the oldest are forgotten beyond this. */
const MAX_REMEMBERED_PRODUCERS = 100_000;

export interface InitProducerResult {
  errorCode: number;
  producerId: number;
  producerEpoch: number;
}

interface EpochState {
  epoch: number;
  /** The epoch before the last bump, so a retried bump gets the same answer. */
  previous: number;
}

export class ProducerIdManager {
  private next = 0;
  private blockEnd = 0;
  private allocation: Promise<unknown> = Promise.resolve();
  private readonly epochs = new Map<number, EpochState>();

  constructor(
    private readonly allocateBlock: AllocateBlock,
    private readonly logs: LogManager,
    private readonly logger: Logger,
  ) {}

  /** A producer id never handed out before, by this broker or (through the metadata log) any other. */
  newProducerId(): Promise<number> {
    const run = this.allocation.then(async () => {
      if (this.next >= this.blockEnd) {
        const block = await this.allocateBlock();
        this.next = block.start;
        this.blockEnd = block.start + block.length;
        this.logger.info({ firstProducerId: block.start, blockSize: block.length }, 'got a block of producer ids');
      }
      return this.next++;
    });
    this.allocation = run.catch(() => undefined);
    return run;
  }

  /** InitProducerId without a transactional id; `producerId`/`producerEpoch` are -1 for a new producer. */
  async initProducer(producerId: number, producerEpoch: number): Promise<InitProducerResult> {
    if (producerId === -1 && producerEpoch === -1) return this.fresh();
    if (producerId < 0 || producerEpoch < 0) return failure(ErrorCode.INVALID_REQUEST);
    const known = this.epochs.get(producerId) ?? this.epochFromLogs(producerId);
    if (!known) return this.fresh();
    if (producerEpoch === known.epoch) {
      if (known.epoch + 1 >= MAX_PRODUCER_EPOCH) return this.fresh();
      this.remember(producerId, { epoch: known.epoch + 1, previous: known.epoch });
      return { errorCode: ErrorCode.NONE, producerId, producerEpoch: known.epoch + 1 };
    }
    if (producerEpoch === known.previous) return { errorCode: ErrorCode.NONE, producerId, producerEpoch: known.epoch };
    return failure(ErrorCode.INVALID_PRODUCER_EPOCH);
  }

  private async fresh(): Promise<InitProducerResult> {
    let producerId: number;
    try {
      producerId = await this.newProducerId();
    } catch (err) {
      this.logger.error({ err }, 'could not get a block of producer ids from the active controller');
      return failure(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    }
    this.remember(producerId, { epoch: 0, previous: -1 });
    return { errorCode: ErrorCode.NONE, producerId, producerEpoch: 0 };
  }

  private remember(producerId: number, state: EpochState): void {
    this.epochs.delete(producerId);
    this.epochs.set(producerId, state);
    if (this.epochs.size > MAX_REMEMBERED_PRODUCERS) this.epochs.delete(this.epochs.keys().next().value!);
  }

  /** The highest epoch any partition has seen from this producer id. */
  private epochFromLogs(producerId: number): EpochState | undefined {
    let epoch = -1;
    for (const [, log] of this.logs.entries()) epoch = Math.max(epoch, log.producerEpoch(producerId) ?? -1);
    return epoch < 0 ? undefined : { epoch, previous: -1 };
  }
}

function failure(errorCode: number): InitProducerResult {
  return { errorCode, producerId: -1, producerEpoch: -1 };
}
