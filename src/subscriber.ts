/**
 * One subscriber's event stream. It is a pull-based `ReadableStream` with a queue measured
 * in bytes: the runtime asks for more (`pull`) only when the reader has taken what was
 * queued, which is what paces replay. (A TransformStream writer's `ready` was seen to
 * resolve in workerd with nobody reading, so it cannot pace anything.) A reader that goes
 * away cancels the stream, which is how the channel learns of it.
 */

/**
 * `replaying`: catching up from the log at the pace of its reader, not yet sent live
 * events; `live`: gets every publish as it happens; `gone`: removed, never written again.
 */
export type SubscriberState = 'replaying' | 'live' | 'gone';

export interface SubscriberHooks {
  /** The reader wants more: a replaying subscriber gets its next events from the log. */
  pull(sub: Subscriber): void;
  /** The reader went away. */
  cancel(sub: Subscriber): void;
}

export class Subscriber {
  state: SubscriberState;
  /** The id of the last event sent: where replay goes on from. */
  cursor: number;
  /** When bytes were last queued, for heartbeats (ms since the epoch). */
  lastWrite = 0;
  readonly stream: ReadableStream<Uint8Array>;
  readonly #highWaterMark: number;
  readonly #hooks: SubscriberHooks;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  /** workerd may ask for more as soon as the first bytes are queued: not before {@link start}. */
  #started = false;

  constructor(hooks: SubscriberHooks, highWaterMark: number, state: 'replaying' | 'live', cursor: number) {
    this.state = state;
    this.cursor = cursor;
    this.#highWaterMark = highWaterMark;
    this.#hooks = hooks;
    this.stream = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.#controller = controller;
        },
        pull: () => {
          if (this.#started) hooks.pull(this);
        },
        cancel: () => hooks.cancel(this),
      },
      new ByteLengthQueuingStrategy({ highWaterMark }),
    );
  }

  /** Called once the opening bytes are queued: from now on `pull` reaches the hooks. */
  start(): void {
    this.#started = true;
    this.#hooks.pull(this);
  }

  /** Bytes queued that the reader has not taken yet. */
  get unsent(): number {
    const desired = this.#controller.desiredSize;
    return desired === null ? Infinity : this.#highWaterMark - desired;
  }

  /** True while the queue is below its high-water mark. */
  get wantsMore(): boolean {
    return (this.#controller.desiredSize ?? 0) > 0;
  }

  /** Queues bytes; false if the stream can no longer take any (closed, cancelled or errored). */
  send(bytes: Uint8Array): boolean {
    try {
      this.#controller.enqueue(bytes);
    } catch {
      return false;
    }
    this.lastWrite = Date.now();
    return true;
  }

  /**
   * Errors the stream: its queue is freed at once and the client sees a broken stream,
   * so EventSource reconnects with its Last-Event-ID.
   */
  cut(reason: string): void {
    this.state = 'gone';
    try {
      this.#controller.error(new Error(reason));
    } catch {
      // Already closed or errored.
    }
  }

  /** Ends the stream once the reader has taken what is queued. */
  end(): void {
    this.state = 'gone';
    try {
      this.#controller.close();
    } catch {
      // Already closed or errored.
    }
  }
}
