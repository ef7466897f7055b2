/**
 * The framing of a multi-channel stream (docs/api.md): each channel's events re-framed
 * with their channel and the cursor of every channel as id; gaps and closes say their
 * channel. The stream itself, its heartbeats and its links to the channels' objects are
 * the same as a single channel's (session.ts); this is only what differs.
 */
import { cursorText } from './cursor';
import { parseFrame, type Frame } from './frames';
import type { Framing } from './session';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeMergedEvent(cursor: string, channel: string, frame: Frame & { id: number }): string {
  const event = frame.event === undefined || frame.event === 'message' ? '' : `event: ${frame.event}\n`;
  const data = JSON.stringify({ channel, id: String(frame.id), data: frame.data ?? '' });
  return `id: ${cursor}\n${event}data: ${data}\n\n`;
}

/** The hub's own `gap` and `close` events, with the channel they are about first. */
export function encodeChannelNotice(event: 'gap' | 'close', channel: string, data: string): string {
  const fields = JSON.parse(data) as Record<string, unknown>;
  return `event: ${event}\ndata: ${JSON.stringify({ channel, ...fields })}\n\n`;
}

/** The merged stream's opening: the cursor before its first event, and the channels already deleted. */
export function encodeMergedOpening(retryMs: number, cursor: readonly number[], deleted: readonly string[]): Uint8Array {
  let text = `retry: ${retryMs}\nid: ${cursorText(cursor)}\n: connected\n\n`;
  for (const channel of deleted) text += encodeChannelNotice('close', channel, '{"reason":"deleted"}');
  return encoder.encode(text);
}

export class MergedFraming implements Framing {
  readonly #channels: readonly string[];
  /** Every channel's last id handed on, in the order of the channels. */
  readonly #cursor: number[];
  /** Channels not yet deleted; the stream ends with the last. */
  #open: number;

  constructor(channels: readonly string[], cursor: readonly number[], open: number) {
    this.#channels = channels;
    this.#cursor = [...cursor];
    this.#open = open;
  }

  /** A channel's SSE bytes arrive in whole events (one publish, or one replay step). */
  batch(index: number, bytes: Uint8Array): Uint8Array {
    const channel = this.#channels[index]!;
    let text = '';
    for (const block of decoder.decode(bytes).split('\n\n')) {
      if (block === '') continue;
      const frame = parseFrame(block);
      if (frame.event === 'gap') {
        text += encodeChannelNotice('gap', channel, frame.data ?? '{}');
      } else if (frame.id !== undefined && frame.data !== undefined) {
        this.#cursor[index] = frame.id;
        text += encodeMergedEvent(cursorText(this.#cursor), channel, { ...frame, id: frame.id });
      }
    }
    return encoder.encode(text);
  }

  deleted(index: number, close: Uint8Array): { bytes: Uint8Array; end: boolean } {
    const frame = parseFrame(decoder.decode(close).replace(/\n\n$/, ''));
    this.#open--;
    return { bytes: encoder.encode(encodeChannelNotice('close', this.#channels[index]!, frame.data ?? '{}')), end: this.#open === 0 };
  }
}
