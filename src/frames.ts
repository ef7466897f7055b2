/**
 * Reads back the SSE frames a channel's Durable Object writes (sse.ts), for the Worker
 * that merges several channels into one stream (merge.ts). It parses only what the hub
 * itself emits: whole blocks (the object's messages hold whole events), `\n` line ends,
 * `field: value` lines.
 */

/** One block of the hub's own SSE output. */
export interface Frame {
  id?: number;
  event?: string;
  /** The `data:` lines joined by `\n`; absent when the block had none. */
  data?: string;
}

/** Parses one complete block (without its blank line). */
export function parseFrame(block: string): Frame {
  // A block of comments only (`: connected`, `: heartbeat`) parses to an empty frame.
  const frame: Frame = {};
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? '' : line.slice(line[colon + 1] === ' ' ? colon + 2 : colon + 1);
    switch (field) {
      case 'id':
        frame.id = Number(value);
        break;
      case 'event':
        frame.event = value;
        break;
      case 'data':
        data.push(value);
        break;
    }
  }
  if (data.length > 0) frame.data = data.join('\n');
  return frame;
}
