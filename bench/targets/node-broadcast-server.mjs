#!/usr/bin/env node
// A trivial SSE broadcaster in plain Node, with Herald's URL shapes: the baseline that
// shows how fast the load generator can count when the hub does almost nothing. One
// process, in memory, no auth, no durability, no backpressure handling.
//
//   node bench/targets/node-broadcast-server.mjs <port>
import http from 'node:http';

const port = Number(process.argv[2]);
const RETAIN = 1000;
const channels = new Map();
const channelOf = (name) => {
  let c = channels.get(name);
  if (!c) {
    c = { lastId: 0, log: [], subs: new Set() };
    channels.set(name, c);
  }
  return c;
};
const frame = (id, data) => `id: ${id}\ndata: ${data}\n\n`;

const server = http.createServer((req, res) => {
  const m = /^\/v1\/channels\/([^/?]+)(\/events)?(\?.*)?$/.exec(req.url);
  if (req.url === '/healthz') return res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"ok":true}');
  if (!m) return res.writeHead(404).end();
  const channel = channelOf(m[1]);
  if (!m[2]) {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    return res.end(JSON.stringify({ channel: m[1], lastEventId: String(channel.lastId), subscribers: channel.subs.size }));
  }
  if (req.method === 'GET') {
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache, no-transform' });
    res.write('retry: 2000\n: connected\n\n');
    const after = req.headers['last-event-id'];
    if (after !== undefined) {
      const from = Number(after);
      let out = '';
      for (const e of channel.log) if (e.id > from) out += frame(e.id, e.data);
      if (out) res.write(out);
    }
    channel.subs.add(res);
    const drop = () => channel.subs.delete(res);
    req.on('close', drop);
    res.on('error', drop);
    return;
  }
  if (req.method === 'POST') {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      let body;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return res.writeHead(400).end();
      }
      const events = body.events ?? [body];
      const ids = [];
      let out = '';
      for (const e of events) {
        const id = ++channel.lastId;
        const data = typeof e.data === 'string' ? e.data : JSON.stringify(e.data);
        channel.log.push({ id, data });
        ids.push(String(id));
        out += frame(id, data);
      }
      if (channel.log.length > RETAIN) channel.log.splice(0, channel.log.length - RETAIN);
      for (const sub of channel.subs) sub.write(out);
      res.writeHead(201, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ channel: m[1], ids, subscribers: channel.subs.size }));
    });
    return;
  }
  res.writeHead(405).end();
});
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}/` })}\n`));
process.on('SIGTERM', () => process.exit(0));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
