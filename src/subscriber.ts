/**
 * One subscriber's event stream, held by the edge Worker (session.ts): a pull-based `ReadableStream` with no queue of its own
 * (high-water mark 0), so `pull` means exactly "the reader is waiting for bytes". Bytes
 * sent while the reader is still busy with earlier ones wait here and go out together at
 * its next read, joined into one chunk (of up to 4 KiB). A reader that keeps up gets every publish at once; one that
 * falls behind (a busy runtime, a slow socket) gets the backlog coalesced, so the runtime
 * pumps one chunk instead of one per event — the cost of a delivery is mostly per chunk.
 * A reader that goes away cancels the stream, which is how the session learns of it.
 * (A TransformStream writer's `ready` was seen to resolve in workerd with nobody reading,
 * so it can neither pace replay nor tell what is unsent.)
 */
import { concat } from './bytes';

/**
 * `replaying`: catching up from the log at the pace of its reader, not yet sent live
 * events; `live`: gets every publish as it happens; `gone`: removed, never written again.
 */
export type SubscriberState = 'replaying' | 'live' | 'gone';

/**
 * Largest chunk made by joining pending sends. Each subscriber's joined chunk is a copy of
 * its own (the sends themselves are shared by every subscriber), so this bounds what
 * coalescing can add to the isolate's memory: 4 KiB × 10,000 subscribers is 40 MB at worst.
 * A send larger than this goes out alone, shared, as it came.
 */
const COALESCE_MAX_BYTES = 4 * 1024;

export interface SubscriberHooks {
  /** There is room for more: a replaying subscriber gets its next events from the log. */
  pull(sub: Subscriber): void;
  /** The reader went away. */
  cancel(sub: Subscriber): void;
}

export class Subscriber {
  state: SubscriberState;
  /** When bytes were last sent, for heartbeats (ms since the epoch). */
  lastWrite = 0;
  readonly stream: ReadableStream<Uint8Array>;
  /** Replay reads ahead until this many bytes wait for the reader. */
  readonly #readAhead: number;
  readonly #hooks: SubscriberHooks;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  /** Bytes the reader has not taken yet, oldest first. */
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  #sentBytes = 0;
  /** The reader is waiting for bytes (a `pull` not yet answered). */
  #waiting = false;
  /** Replay is filling `#pending`: hold its bytes back to send them as one chunk. */
  #filling = false;
  /** workerd may ask for bytes as soon as the stream exists: no replay before {@link start}. */
  #started = false;
  /** Closed, errored or cancelled: takes nothing more. */
  #closed = false;

  constructor(hooks: SubscriberHooks, readAhead: number, state: 'replaying' | 'live') {
    this.state = state;
    this.#readAhead = readAhead;
    this.#hooks = hooks;
    this.stream = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.#controller = controller;
        },
        pull: () => {
          this.#waiting = true;
          this.#flush();
          this.#fill();
        },
        cancel: () => {
          this.#closed = true;
          this.#release();
          hooks.cancel(this);
        },
      },
      { highWaterMark: 0 },
    );
  }

  /** Called once the opening bytes are sent: from now on replay may run. */
  start(): void {
    this.#started = true;
    this.#fill();
  }

  /** Bytes sent that the reader has not taken yet. */
  get unsent(): number {
    return this.#pendingBytes;
  }

  /** Bytes sent since the stream began, taken or not. */
  get sent(): number {
    return this.#sentBytes;
  }

  /** True while replay may read more of the log for this subscriber. */
  get wantsMore(): boolean {
    return !this.#closed && this.#pendingBytes < this.#readAhead;
  }

  /** Sends bytes; false if the stream can no longer take any (closed, cancelled or errored). */
  send(bytes: Uint8Array): boolean {
    if (this.#closed) return false;
    this.#pending.push(bytes);
    this.#pendingBytes += bytes.byteLength;
    this.#sentBytes += bytes.byteLength;
    this.lastWrite = Date.now();
    if (!this.#filling) this.#flush();
    return true;
  }

  /**
   * Ends the stream at once, dropping what is pending: its buffer is freed now, the reader
   * gets only the whole chunks the runtime already took, then the end of the stream, and
   * EventSource reconnects with its Last-Event-ID. Closed, not errored: erroring a body
   * the runtime is sending makes workerd's own pump report "Uncaught (in promise)" with
   * our error, once per cut, where no handler of ours can catch it (issue 11).
   */
  cut(): void {
    this.state = 'gone';
    if (this.#closed) return;
    this.#closed = true;
    this.#release();
    try {
      this.#controller.close();
    } catch {
      // Already closed or errored.
    }
  }

  /** Ends the stream once the reader has taken what was sent. */
  end(): void {
    this.state = 'gone';
    if (this.#closed) return;
    this.#closed = true;
    try {
      // A closed stream still hands its queue to the reader.
      while (this.#pendingBytes > 0) this.#controller.enqueue(this.#take());
      this.#controller.close();
    } catch {
      // Already closed or errored.
    }
  }

  /**
   * Replay's next steps: one for a waiting reader, then one more read ahead, so the next
   * read finds its bytes ready.
   */
  #fill(): void {
    for (let step = 0; step < 2 && this.#started && this.state === 'replaying' && this.wantsMore; step++) {
      this.#filling = true;
      try {
        this.#hooks.pull(this);
      } finally {
        this.#filling = false;
      }
      this.#flush();
    }
  }

  /** Hands what is pending to a waiting reader, as one chunk. */
  #flush(): void {
    if (!this.#waiting || this.#pendingBytes === 0 || this.#closed) return;
    this.#waiting = false;
    try {
      this.#controller.enqueue(this.#take());
    } catch {
      // The stream can take nothing more: the channel must stop counting this subscriber.
      this.#closed = true;
      this.#release();
      this.#hooks.cancel(this);
    }
  }

  /**
   * The oldest pending sends as one chunk, up to {@link COALESCE_MAX_BYTES} (always at
   * least one send); a single send goes as the very bytes, shared, not copied.
   */
  #take(): Uint8Array {
    let count = 0;
    let size = 0;
    for (const chunk of this.#pending) {
      if (count > 0 && size + chunk.byteLength > COALESCE_MAX_BYTES) break;
      size += chunk.byteLength;
      count++;
    }
    const taken = this.#pending.splice(0, count);
    this.#pendingBytes -= size;
    return count === 1 ? taken[0]! : concat(taken);
  }

  #release(): void {
    this.#pending = [];
    this.#pendingBytes = 0;
  }
}
