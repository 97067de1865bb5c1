// A broker's membership of the cluster, as Kafka's BrokerLifecycleManager: once its metadata has
// caught up with the quorum it registers with the active controller (endpoints, rack, a new
// incarnation id per process), then heartbeats every broker.heartbeat.interval.ms with the
// offset it has applied. The controller unfences it when that offset passes its registration;
// a heartbeat answered STALE_BROKER_EPOCH (the controller lost or replaced the registration)
// registers again. Controlled shutdown asks, by heartbeat, for leadership to move away first.

import type { Logger } from 'pino';
import type { Clock, Timer } from '../clock.js';
import type { BrokerConfig } from '../config/broker-config.js';
import { newIncarnationId } from '../controller/quorum-controller.js';
import type { MetadataPublisher } from '../metadata/publisher.js';
import { METADATA_VERSION_LEVEL, METADATA_VERSION_MIN_LEVEL } from '../metadata/records.js';
import { ErrorCode, errorName } from '../protocol/errors.js';
import { BrokerHeartbeat, BrokerRegistration } from '../protocol/messages/index.js';
import type { ControllerChannel } from './controller-channel.js';

const PLAINTEXT_SECURITY_PROTOCOL = 0;
const SHUTDOWN_RETRY_MS = 100;
/** Answers that mean no controller took the request (a forwarding node found none): retried like a failure. */
const NO_CONTROLLER = new Set<number>([ErrorCode.REQUEST_TIMED_OUT, ErrorCode.NOT_CONTROLLER]);
/** Failed asks (each already waits out an election) after which a stopping broker gives up on controlled shutdown. */
const MAX_SHUTDOWN_FAILURES = 1;

export class BrokerLifecycle {
  private readonly incarnationId = newIncarnationId();
  private brokerEpoch = -1;
  private fenced = true;
  /** The last reason the controller gave for refusing the registration, so it is logged once. */
  private lastRefusal: string | undefined;
  private timer: Timer | undefined;
  private unfencedWaiters: (() => void)[] = [];
  private stopped = false;

  constructor(
    private readonly config: BrokerConfig,
    private readonly clusterId: string,
    private readonly endpoints: () => { name: string; host: string; port: number }[],
    private readonly channel: ControllerChannel,
    private readonly publisher: MetadataPublisher,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  get epoch(): number {
    return this.brokerEpoch;
  }

  get isFenced(): boolean {
    return this.fenced;
  }

  /** Registers and heartbeats until unfenced; resolves then (it keeps heartbeating after). */
  start(): Promise<void> {
    const unfenced = new Promise<void>((resolve) => this.unfencedWaiters.push(resolve));
    void this.beat();
    return unfenced;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = this.clock.after(delayMs, () => void this.beat());
  }

  private async beat(): Promise<void> {
    try {
      if (this.brokerEpoch < 0) await this.register();
      if (this.brokerEpoch >= 0) await this.heartbeat(false);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'could not reach the active controller; retrying');
    }
    // Fenced brokers heartbeat quickly, to be unfenced as soon as they have caught up.
    this.schedule(
      this.fenced ? Math.min(200, this.config.brokerHeartbeatIntervalMs) : this.config.brokerHeartbeatIntervalMs,
    );
  }

  private async register(): Promise<void> {
    const body = {
      brokerId: this.config.nodeId,
      clusterId: this.clusterId,
      incarnationId: this.incarnationId,
      listeners: this.endpoints().map((e) => ({ ...e, securityProtocol: PLAINTEXT_SECURITY_PROTOCOL })),
      features: [
        {
          name: 'metadata.version',
          minSupportedVersion: METADATA_VERSION_MIN_LEVEL,
          maxSupportedVersion: METADATA_VERSION_LEVEL,
        },
      ],
      rack: this.config.rack,
      isMigratingZkBroker: false,
      logDirs: [],
      previousBrokerEpoch: -1,
    };
    const res = await this.channel.call(BrokerRegistration, 'latest', body, async (c) => {
      const r = await c.registerBroker(body);
      return { throttleTimeMs: 0, errorCode: r.errorCode, brokerEpoch: r.brokerEpoch };
    });
    if (NO_CONTROLLER.has(res.errorCode)) throw new Error(`registration: ${errorName(res.errorCode)}`);
    if (res.errorCode !== ErrorCode.NONE) {
      // Retried at every beat; said once per reason (DUPLICATE_BROKER_REGISTRATION lasts until the
      // previous process's session expires).
      const error = errorName(res.errorCode);
      if (error !== this.lastRefusal)
        this.logger.error({ error }, "the controller refused this broker's registration; retrying");
      this.lastRefusal = error;
      return;
    }
    this.lastRefusal = undefined;
    this.brokerEpoch = res.brokerEpoch;
    this.logger.info({ brokerEpoch: this.brokerEpoch }, 'registered with the controller');
  }

  /** One heartbeat; returns whether the controller says this broker may shut down. */
  private async heartbeat(wantShutDown: boolean): Promise<boolean> {
    const body = {
      brokerId: this.config.nodeId,
      brokerEpoch: this.brokerEpoch,
      currentMetadataOffset: this.publisher.image.appliedOffset - 1,
      wantFence: false,
      wantShutDown,
      offlineLogDirs: [],
    };
    const res = await this.channel.call(BrokerHeartbeat, 'latest', body, async (c) => ({
      throttleTimeMs: 0,
      ...(await c.heartbeat(body)),
    }));
    if (res.errorCode === ErrorCode.STALE_BROKER_EPOCH) {
      this.logger.warn(
        { brokerEpoch: this.brokerEpoch },
        'the controller no longer knows this registration; registering again',
      );
      this.brokerEpoch = -1;
      this.fenced = true;
      return false;
    }
    if (NO_CONTROLLER.has(res.errorCode)) throw new Error(`heartbeat: ${errorName(res.errorCode)}`);
    if (res.errorCode !== ErrorCode.NONE) return false;
    if (this.fenced && !res.isFenced) {
      this.logger.info({ brokerEpoch: this.brokerEpoch }, 'unfenced: serving clients');
      for (const w of this.unfencedWaiters.splice(0)) w();
    }
    this.fenced = res.isFenced;
    return res.shouldShutDown;
  }

  /**
   * Controlled shutdown: heartbeats with WantShutDown until the controller has moved this
   * broker's leaderships away and fenced it, or `timeoutMs` passes.
   */
  async shutDown(timeoutMs: number): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    if (this.brokerEpoch < 0) return;
    const deadline = this.clock.nowMs() + timeoutMs;
    let failures = 0;
    while (this.clock.nowMs() < deadline) {
      try {
        if (await this.heartbeat(true)) return;
        failures = 0;
      } catch (err) {
        // With no controller to ask (the whole cluster stopping, say), waiting helps nobody:
        // the session timeout fences this broker and moves its leaderships anyway.
        if (++failures >= MAX_SHUTDOWN_FAILURES) {
          this.logger.warn(
            { err: (err as Error).message },
            'controlled shutdown: no controller answers; stopping anyway',
          );
          return;
        }
      }
      await new Promise<void>((resolve) => this.clock.after(SHUTDOWN_RETRY_MS, resolve));
    }
    this.logger.warn({ timeoutMs }, 'controlled shutdown did not finish in time; stopping anyway');
  }
}
