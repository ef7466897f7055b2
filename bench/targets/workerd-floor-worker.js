// The runtime's floor: the least a Durable Object broadcaster in workerd can do, with
// Herald's URL shapes. One object per channel keeps a ReadableStream controller per
// subscriber and enqueues each publish's bytes to all of them; a small in-memory log for
// Last-Event-ID. No storage, no auth, no validation, no backpressure, no heartbeats.
// Whatever Herald costs above this column is Herald's; what this costs is workerd's.
import { DurableObject } from 'cloudflare:workers';

const encoder = new TextEncoder();
const RETAIN = 1000;

export class Channel extends DurableObject {
  subscribers = new Set();
  lastId = 0;
  log = [];

  async fetch(request) {
    let controller;
    const stream = new ReadableStream({
      start: (c) => {
        controller = c;
      },
      cancel: () => this.subscribers.delete(controller),
    });
    let opening = 'retry: 2000\n: connected\n\n';
    const after = request.headers.get('Last-Event-ID');
    if (after !== null) for (const e of this.log) if (e.id > Number(after)) opening += `id: ${e.id}\ndata: ${e.data}\n\n`;
    controller.enqueue(encoder.encode(opening));
    this.subscribers.add(controller);
    return new Response(stream, { headers: { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache, no-transform' } });
  }

  publish(datas) {
    const ids = [];
    let text = '';
    for (const data of datas) {
      const id = ++this.lastId;
      ids.push(String(id));
      this.log.push({ id, data });
      text += `id: ${id}\ndata: ${data}\n\n`;
    }
    if (this.log.length > RETAIN) this.log.splice(0, this.log.length - RETAIN);
    const bytes = encoder.encode(text);
    for (const c of this.subscribers) {
      try {
        c.enqueue(bytes);
      } catch {
        this.subscribers.delete(c);
      }
    }
    return { ids, subscribers: this.subscribers.size };
  }

  count() {
    return this.subscribers.size;
  }
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === '/healthz') return Response.json({ ok: true });
    const m = /^\/v1\/channels\/([^/]+)(\/events)?$/.exec(url.pathname);
    if (!m) return new Response(null, { status: 404 });
    const stub = env.CHANNEL.get(env.CHANNEL.idFromName(m[1]));
    if (!m[2]) return Response.json({ channel: m[1], subscribers: await stub.count() });
    if (request.method === 'GET') return stub.fetch(request);
    const body = await request.json();
    const datas = (body.events ?? [body]).map((e) => (typeof e.data === 'string' ? e.data : JSON.stringify(e.data)));
    return Response.json({ channel: m[1], ...(await stub.publish(datas)) }, { status: 201 });
  },
};
