/**
 * A multi-channel stream (docs/api.md, "Multi-channel subscribe"): each channel's SSE bytes
 * read back and re-framed (sse.ts) with their channel, the cursor of every channel as id.
 * The stream itself, its heartbeats and its links to the channels' objects are the same
 * as a single channel's (session.ts); this is only what differs.
 */
import { cursorText } from './cursor';
import { parseFrame } from './frames';
import type { Framing } from './session';
import { encodeChannelNotice, encodeMergedEvent } from './sse';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

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
        text += encodeMergedEvent(cursorText(this.#cursor), channel, { id: frame.id, event: frame.event ?? 'message', data: frame.data });
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
