/**
 * The edge Worker's side of one channel: the WebSocket to the channel's Durable Object
 * that carries its events to one subscriber's stream (protocol.ts). The link keeps the
 * subscriber's cursor, so whatever happens to the object — eviction, a crash, new code —
 * it re-attaches with that cursor and the stream goes on with nothing lost or repeated:
 * ids are sequential, so a message that does not continue from the cursor is either an
 * old one (dropped) or a sign that something was missed (re-attach and replay).
 */
import {
  CLOSE_DELETED,
  LAST_ID_HEADER,
  MORE,
  PING,
  PONG,
  PROTOCOL_VERSION,
  RELAY_HEADER,
  RELAY_KEY,
  RELAYS_HEADER,
  RELAY_STATUS,
  REMEMBER_HEADER,
  VERSION_HEADER,
  attachUrl,
  decodeMessage,
  type AttachParams,
  type ReceivedMessage,
} from './protocol';
import { encodeClose } from './sse';
import { closeQuietly } from './ws';

/** What a link needs of the channel's stub: `DurableObjectStub.fetch`. */
export interface ChannelStub {
  fetch(url: string, init?: RequestInit): Promise<Response>;
}

/** What a socket says, from the moment it is accepted. */
type SocketEvent = { type: 'message'; data: string | ArrayBuffer } | { type: 'close'; code: number };

/**
 * An accepted socket with its listeners already in place: events fire from the moment of
 * `accept()`, and any that came while the Worker was still busy with other channels'
 * attaches wait here instead of being lost.
 */
export class OpenSocket {
  #queue: SocketEvent[] | null = [];
  #target: ((event: SocketEvent) => void) | null = null;

  constructor(readonly socket: WebSocket) {
    const push = (event: SocketEvent) => {
      if (this.#target) this.#target(event);
      else this.#queue?.push(event);
    };
    socket.addEventListener('message', (e) => push({ type: 'message', data: e.data }));
    socket.addEventListener('close', (e) => push({ type: 'close', code: e.code }));
    socket.addEventListener('error', () => push({ type: 'close', code: 1006 }));
  }

  /** Hands every event so far, then each as it comes, to `target`. */
  listen(target: (event: SocketEvent) => void): void {
    this.#target = target;
    const queue = this.#queue ?? [];
    this.#queue = null;
    for (const event of queue) target(event);
  }

  close(reason: string, code = 1000): void {
    closeQuietly(this.socket, code, reason);
  }
}

/** Where an attach ended: a socket, or why not. */
export type Attached =
  /** `relays`, `rememberMs`: what a root's answer says a Worker may spread over (route.ts; 0: nothing). */
  { kind: 'open'; socket: OpenSocket; lastId: number; relays?: number; rememberMs?: number } | { kind: 'closed' } | { kind: 'full' } | { kind: 'unavailable' };

/** What one attach request got: also, from a root, the relay to go to instead. */
/** `relays`: how many the subscriber's region has; `rememberMs`: how long a Worker may spread over them. */
export type AttachResult = Attached | { kind: 'relay'; key: string; relays: number; rememberMs: number };

/** How a link attaches again: to the root, or through the relay that serves it (route.ts). */
export type Attacher = (after: number) => Promise<Attached>;

/**
 * Opens a socket on a channel's object, root or relay. Never throws: an object that is
 * overloaded, restarting, unreachable or speaking another protocol version is
 * `unavailable`, which a subscriber waits out.
 */
export async function attach(stub: ChannelStub, after: number | null, params?: AttachParams): Promise<AttachResult> {
  let res: Response;
  try {
    res = await stub.fetch(attachUrl(after, params), { headers: { Upgrade: 'websocket' } });
  } catch {
    return { kind: 'unavailable' };
  }
  const whole = (name: string) => {
    const n = Number(res.headers.get(name) ?? 0);
    return Number.isSafeInteger(n) && n > 0 ? n : 0;
  };
  const spread = { relays: whole(RELAYS_HEADER), rememberMs: whole(REMEMBER_HEADER) * 1000 };
  const relay = res.headers.get(RELAY_HEADER);
  if (res.status === RELAY_STATUS && relay !== null && RELAY_KEY.test(relay)) return { kind: 'relay', key: relay, ...spread };
  const socket = res.webSocket;
  const lastId = Number(res.headers.get(LAST_ID_HEADER));
  if (res.status === 101 && socket && res.headers.get(VERSION_HEADER) === String(PROTOCOL_VERSION) && Number.isSafeInteger(lastId)) {
    const open = new OpenSocket(socket);
    socket.accept();
    // Binary messages would otherwise arrive as Blobs (docs/platform.md).
    socket.binaryType = 'arraybuffer';
    return { kind: 'open', socket: open, lastId, ...spread };
  }
  if (socket) {
    // A socket of a version this Worker does not speak: let it go (it must be accepted to be closed).
    try {
      socket.accept();
      socket.close(1000, 'herald: protocol version not understood');
    } catch {
      // Already closed.
    }
  }
  const full = res.status === 503 && (await res.text().catch(() => '')).includes('"channel_full"');
  if (!full) await res.body?.cancel().catch(() => {});
  if (res.status === 204) return { kind: 'closed' };
  return { kind: full ? 'full' : 'unavailable' };
}

/**
 * Attaches to one object, with a new stub each time. A root's "go to a relay" is not
 * expected here (only a subscriber's Worker follows it, route.ts): it counts as unavailable.
 */
export function attachTo(stub: () => ChannelStub, params?: () => AttachParams): Attacher {
  return async (after) => {
    const result = await attach(stub(), after, params?.());
    return result.kind === 'relay' ? { kind: 'unavailable' } : result;
  };
}

/** What the link hands on: to a subscriber's stream (session.ts), or to a relay's sockets. */
export interface LinkHandler {
  /**
   * The next message, in order, continuing from the cursor: each event once. A live
   * message (`events`) holds one part per publish (protocol.ts).
   */
  message(message: ReceivedMessage): void;
  /** The channel was deleted: `bytes` is its `close` event. The link is finished. */
  deleted(bytes: Uint8Array): void;
  /** True while the subscriber's reader has room for more replay. */
  wantsMore(): boolean;
}

/** Re-attach waits: full jitter over a window that doubles from the first (1 s) up to 30 s. */
export const REATTACH_BASE_MS = 1000;
const REATTACH_MAX_MS = 30_000;

export class ChannelLink {
  /** The id of the last event handed on: where a re-attach resumes. */
  cursor: number;
  /**
   * Attaches again from the cursor. It must take a new stub each time: after a stub
   * throws, all its calls fail (Cloudflare, developers.cloudflare.com/durable-objects/api/stub).
   */
  readonly #attach: Attacher;
  /** The first re-attach window; later ones double it. */
  readonly #baseMs: number;
  #socket: OpenSocket | null = null;
  #handler: LinkHandler | null = null;
  /** Messages that came before {@link bind}. */
  #early: ReceivedMessage[] = [];
  /** The object is replaying to us and waits for `more`. */
  #replaying = false;
  /** A `more` is in flight: at most one replay step is ever on its way. */
  #asked = false;
  /** Nothing came since the last keep-alive. */
  #quiet = false;
  #pinged = false;
  #attempt = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #done = false;

  constructor(attach: Attacher, socket: OpenSocket, cursor: number, baseMs = REATTACH_BASE_MS) {
    this.#attach = attach;
    this.#baseMs = baseMs;
    this.cursor = cursor;
    this.#use(socket);
  }

  /** Starts handing events on; what came before goes first. */
  bind(handler: LinkHandler): void {
    this.#handler = handler;
    const early = this.#early;
    this.#early = [];
    for (const message of early) this.#deliver(message);
  }

  /** Asks for the next replay step when the reader has room and none is on its way. */
  pump(): void {
    if (this.#replaying && !this.#asked && this.#socket && this.#handler?.wantsMore()) {
      this.#asked = this.#send(MORE);
    }
  }

  /**
   * Called once a heartbeat interval: pings a link that has been quiet, answered by the
   * runtime without waking the object; a ping unanswered for a whole interval means the
   * link died without a close, so it is re-attached.
   */
  keepAlive(): void {
    if (this.#socket === null || this.#done) return;
    if (!this.#quiet) {
      this.#quiet = true;
      this.#pinged = false;
      return;
    }
    if (this.#pinged) {
      this.#reattach();
      return;
    }
    this.#pinged = this.#send(PING);
  }

  /** Sends a text message on the socket if it is open now; false if it is not (re-attaching). */
  notify(text: string): boolean {
    return this.#socket !== null && this.#send(text);
  }

  /**
   * The subscriber went away or the stream ended: lets go of the socket, for good. `code`
   * tells the object why (protocol.ts, CLOSE_TOO_SLOW: it was cut off).
   */
  dispose(code = 1000, reason = 'herald: subscriber left'): void {
    if (this.#done) return;
    this.#done = true;
    clearTimeout(this.#timer);
    this.#drop(reason, code);
  }

  #use(socket: OpenSocket): void {
    this.#socket = socket;
    this.#quiet = false;
    this.#pinged = false;
    socket.listen((event) => {
      if (this.#socket !== socket) return;
      if (event.type === 'message') this.#onMessage(event.data);
      else this.#onClose(event.code);
    });
  }

  #onMessage(data: string | ArrayBuffer): void {
    this.#quiet = false;
    this.#pinged = false;
    if (data === PONG) return;
    const message = typeof data === 'string' ? ({ ok: false, reason: 'a text message' } as const) : decodeMessage(data);
    if (!message.ok) {
      console.warn(`herald: the channel sent what this Worker does not understand (${message.reason}); re-attaching`);
      this.#reattach();
      return;
    }
    if (this.#handler === null) this.#early.push(message);
    else this.#deliver(message);
  }

  #deliver(message: ReceivedMessage): void {
    if (this.#done) return;
    const handler = this.#handler!;
    if (message.kind === 'close') {
      this.dispose();
      handler.deleted(message.payload);
      return;
    }
    if (message.after !== this.cursor) {
      // Sent before a re-attach and already replayed since: nothing new in it.
      if (message.last <= this.cursor) return;
      console.warn(`herald: events after ${this.cursor} came as ${message.after}..${message.last}; re-attaching`);
      this.#reattach();
      return;
    }
    this.cursor = message.last;
    if (message.kind !== 'events') {
      this.#replaying = message.kind === 'replay';
      this.#asked = false;
    }
    handler.message(message);
    this.pump();
  }

  #onClose(code: number): void {
    if (this.#done) return;
    // A close without its message (a deleted channel's): the re-attach finds it deleted.
    if (code === CLOSE_DELETED) this.#attempt = 0;
    this.#reattach();
  }

  /**
   * Lets go of the socket and attaches again from the cursor after a jittered wait, so
   * that the subscribers of a restarted object do not all come back at once. The stream
   * stays open meanwhile; its heartbeats go on.
   */
  #reattach(): void {
    this.#drop('herald: re-attaching');
    if (this.#done || this.#timer !== undefined) return;
    const window = Math.min(Math.max(REATTACH_MAX_MS, this.#baseMs), this.#baseMs * 2 ** this.#attempt);
    this.#attempt++;
    this.#timer = setTimeout(() => void this.#retry(), Math.random() * window);
  }

  async #retry(): Promise<void> {
    const result = await this.#attach(this.cursor);
    this.#timer = undefined;
    if (this.#done) {
      if (result.kind === 'open') result.socket.close('herald: subscriber left');
      return;
    }
    switch (result.kind) {
      case 'open':
        this.#attempt = 0;
        this.#use(result.socket);
        return;
      case 'closed':
        this.dispose();
        return this.#handler?.deleted(encodeClose('deleted'));
      case 'full':
      case 'unavailable':
        return this.#reattach();
    }
  }

  #drop(reason: string, code = 1000): void {
    const socket = this.#socket;
    this.#socket = null;
    this.#replaying = false;
    this.#asked = false;
    socket?.close(reason, code);
  }

  #send(text: string): boolean {
    try {
      this.#socket?.socket.send(text);
      return this.#socket !== null;
    } catch {
      this.#reattach();
      return false;
    }
  }
}
