// src/subscriber.ts directly: what a reader gets when it reads late (coalescing), what
// ending and cutting do with bytes not yet taken, and how far replay reads ahead.
import { describe, expect, it } from 'vitest';
import { Subscriber, type SubscriberHooks } from '../src/subscriber';

const text = (s: string) => new TextEncoder().encode(s);
const decode = (b: Uint8Array | undefined) => new TextDecoder().decode(b);

function live(hooks: Partial<SubscriberHooks> = {}) {
  const cancelled: Subscriber[] = [];
  const sub = new Subscriber({ pull: () => {}, cancel: (s) => cancelled.push(s), ...hooks }, 64 * 1024, 'live');
  sub.start();
  return { sub, reader: sub.stream.getReader(), cancelled };
}

describe('Subscriber', () => {
  it('hands a waiting reader each send at once, as the very bytes', async () => {
    const { sub, reader } = live();
    const read = reader.read();
    const bytes = text('id: 1\ndata: a\n\n');
    sub.send(bytes);
    expect((await read).value).toBe(bytes);
    expect(sub.unsent).toBe(0);
  });

  it('joins what was sent while the reader was busy into one chunk, in order', async () => {
    const { sub, reader } = live();
    for (const id of [1, 2, 3]) sub.send(text(`id: ${id}\ndata: x\n\n`));
    expect(sub.unsent).toBe(3 * 'id: 1\ndata: x\n\n'.length);
    const { value } = await reader.read();
    expect(decode(value)).toBe('id: 1\ndata: x\n\nid: 2\ndata: x\n\nid: 3\ndata: x\n\n');
    expect(sub.unsent).toBe(0);
  });

  it('joins at most 4 KiB per chunk, and sends a larger send alone and shared', async () => {
    const { sub, reader } = live();
    const small = Array.from({ length: 100 }, (_, i) => text(`${String(i).padStart(3, '0')}`.padEnd(100, '.')));
    const big = text('B'.repeat(10_000));
    for (const chunk of small) sub.send(chunk);
    sub.send(big);
    const chunks: Uint8Array[] = [];
    while (sub.unsent > 0) chunks.push((await reader.read()).value!);
    expect(chunks.map((c) => c.byteLength)).toEqual([4000, 4000, 2000, 10_000]);
    expect(chunks[3]).toBe(big);
    expect(chunks.slice(0, 3).map(decode).join('')).toBe(small.map(decode).join(''));
  });

  it('end() hands over what is pending, then ends the stream', async () => {
    const { sub, reader } = live();
    sub.send(text('id: 1\ndata: a\n\n'));
    sub.send(text('event: close\ndata: {"reason":"deleted"}\n\n'));
    sub.end();
    expect(sub.state).toBe('gone');
    expect(sub.send(text('late'))).toBe(false);
    expect(decode((await reader.read()).value)).toBe('id: 1\ndata: a\n\nevent: close\ndata: {"reason":"deleted"}\n\n');
    expect((await reader.read()).done).toBe(true);
  });

  it('cut() drops what is pending and ends the stream at once, without handing it over', async () => {
    const { sub, reader } = live();
    sub.send(text('x'.repeat(1000)));
    sub.cut();
    expect(sub.state).toBe('gone');
    expect(sub.unsent).toBe(0);
    expect(sub.send(text('late'))).toBe(false);
    expect(await reader.read()).toEqual({ done: true, value: undefined });
  });

  it('tells the channel when the reader goes away', async () => {
    const { sub, reader, cancelled } = live();
    await reader.cancel();
    expect(cancelled).toEqual([sub]);
    expect(sub.send(text('x'))).toBe(false);
  });

  it('reads replay ahead of its reader by at most the read-ahead plus one step, and only as it reads', async () => {
    let pulls = 0;
    const step = text('r'.repeat(10_000));
    const sub = new Subscriber(
      {
        // Like the channel's replay: send while the subscriber wants more.
        pull: (s) => {
          pulls++;
          while (s.wantsMore) s.send(step);
        },
        cancel: () => {},
      },
      32 * 1024,
      'replaying',
    );
    sub.start();
    expect(sub.unsent).toBe(4 * 10_000); // up to 32 KiB, then one step past it
    const reader = sub.stream.getReader();
    await reader.read();
    expect(sub.unsent).toBeLessThanOrEqual(32 * 1024 + 10_000);
    expect(pulls).toBeGreaterThan(1);
  });
});
