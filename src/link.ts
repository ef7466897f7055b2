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
  VERSION_HEADER,
  attachUrl,
  decodeMessage,
  type ChannelMessage,
} from './protocol';
import { encodeClose } from './sse';

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
    const push = (event: SocketEvent) => (this.#target ? this.#target(event) : this.#queue?.push(event));
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

  close(reason: string): void {
    try {
      this.socket.close(1000, reason);
    } catch {
      // Already closed.
    }
  }
}

export type AttachResult =
  | { kind: 'open'; socket: OpenSocket; lastId: number }
  | { kind: 'closed' }
  | { kind: 'full' }
  | { kind: 'unavailable' };

/**
 * Opens a subscriber's socket on the channel's object. Never throws: an object that is
 * overloaded, restarting, unreachable or speaking another protocol version is
 * `unavailable`, which a subscriber waits out.
 */
export async function attach(stub: ChannelStub, after: number | null): Promise<AttachResult> {
  let res: Response;
  try {
    res = await stub.fetch(attachUrl(after), { headers: { Upgrade: 'websocket' } });
  } catch {
    return { kind: 'unavailable' };
  }
  const socket = res.webSocket;
  const lastId = Number(res.headers.get(LAST_ID_HEADER));
  if (res.status === 101 && socket && res.headers.get(VERSION_HEADER) === String(PROTOCOL_VERSION) && Number.isSafeInteger(lastId)) {
    const open = new OpenSocket(socket);
    socket.accept();
    // Binary messages would otherwise arrive as Blobs (../shared/PLATFORM.md).
    socket.binaryType = 'arraybuffer';
    return { kind: 'open', socket: open, lastId };
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

/** What the link hands to the stream it feeds. */
export interface LinkHandler {
  /** SSE bytes, in order, each event once; `live` for a publish, not a replay step. */
  batch(bytes: Uint8Array, live: boolean): void;
  /** The channel was deleted: `bytes` is its `close` event. The link is finished. */
  deleted(bytes: Uint8Array): void;
  /** True while the subscriber's reader has room for more replay. */
  wantsMore(): boolean;
}

/** Re-attach waits: full jitter over a window that doubles from 1 s up to 30 s. */
const REATTACH_BASE_MS = 1000;
const REATTACH_MAX_MS = 30_000;

export class ChannelLink {
  /** The id of the last event handed on: where a re-attach resumes. */
  cursor: number;
  /**
   * A new stub for each re-attach: after a stub throws, all its calls fail (Cloudflare,
   * developers.cloudflare.com/durable-objects/api/stub).
   */
  readonly #stub: () => ChannelStub;
  #socket: OpenSocket | null = null;
  #handler: LinkHandler | null = null;
  /** Messages that came before {@link bind}. */
  #early: ChannelMessage[] = [];
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

  constructor(stub: () => ChannelStub, socket: OpenSocket, cursor: number) {
    this.#stub = stub;
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
    if (this.#pinged) return this.#reattach();
    this.#pinged = this.#send(PING);
  }

  /** The subscriber went away or the stream ended: lets go of the socket, for good. */
  dispose(): void {
    if (this.#done) return;
    this.#done = true;
    clearTimeout(this.#timer);
    this.#drop('herald: subscriber left');
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
      return this.#reattach();
    }
    if (this.#handler === null) this.#early.push(message);
    else this.#deliver(message);
  }

  #deliver(message: ChannelMessage): void {
    if (this.#done) return;
    const handler = this.#handler!;
    if (message.kind === 'close') {
      this.dispose();
      return handler.deleted(message.payload);
    }
    if (message.after !== this.cursor) {
      // Sent before a re-attach and already replayed since: nothing new in it.
      if (message.last <= this.cursor) return;
      console.warn(`herald: events after ${this.cursor} came as ${message.after}..${message.last}; re-attaching`);
      return this.#reattach();
    }
    this.cursor = message.last;
    if (message.kind !== 'events') {
      this.#replaying = message.kind === 'replay';
      this.#asked = false;
    }
    if (message.kind === 'events') {
      // One publish at a time: the stream checks its reader before each (session.ts).
      let at = 0;
      for (const size of message.parts) {
        if (this.#done) return;
        handler.batch(message.payload.subarray(at, (at += size)), true);
      }
    } else if (message.payload.byteLength > 0) {
      handler.batch(message.payload, false);
    }
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
    const window = Math.min(REATTACH_MAX_MS, REATTACH_BASE_MS * 2 ** this.#attempt);
    this.#attempt++;
    this.#timer = setTimeout(() => void this.#retry(), Math.random() * window);
  }

  async #retry(): Promise<void> {
    const result = await attach(this.#stub(), this.cursor);
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

  #drop(reason: string): void {
    const socket = this.#socket;
    this.#socket = null;
    this.#replaying = false;
    this.#asked = false;
    socket?.close(reason);
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
