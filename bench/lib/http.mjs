// The load generator's HTTP: a keep-alive client for publishes and info requests, and raw
// SSE subscribers (one socket each, no EventSource library, minimal parsing) that hand
// every event's data to a callback with the arrival time on the generator's one clock.
import http from 'node:http';
import net from 'node:net';

/** Milliseconds on one clock for the whole generator (publish stamps and arrivals). */
export const now = () => performance.timeOrigin + performance.now();
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/** A keep-alive HTTP client for one target. */
export function client(port, { maxSockets = 64 } = {}) {
  const agent = new http.Agent({ keepAlive: true, maxSockets });
  return {
    /** Resolves { status, body } ; rejects on a network error or after `timeoutMs`. */
    request(method, path, { headers = {}, body, timeoutMs = 30_000 } = {}) {
      return new Promise((resolve, reject) => {
        const req = http.request(
          { host: '127.0.0.1', port, method, path, agent, headers: body === undefined ? headers : { ...headers, 'Content-Length': Buffer.byteLength(body) } },
          (res) => {
            const chunks = [];
            res.on('data', (c) => chunks.push(c));
            res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
            res.on('error', reject);
          },
        );
        req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${path}: no answer in ${timeoutMs} ms`)));
        req.on('error', reject);
        req.end(body);
      });
    },
    close() {
      agent.destroy();
    },
  };
}

/**
 * Opens one SSE subscriber on a raw socket (HTTP/1.1 written and parsed here: cheaper per
 * event than node:http, so that the generator's own cost stays small next to the hub's).
 * Resolves once the response is 200 and its first body bytes (the hub's opening comment)
 * have arrived; rejects on another status, an error or a timeout. `onData(data, at)` gets
 * each event's data field (single-line data only, which is all the bench publishes) and
 * the arrival time of the bytes that completed it; `onEnd()` fires if the stream ends later.
 * A refusal (Herald's 200 stream that carries only `retry: <ms>` and a `: channel_full` or
 * `: unavailable` comment, then ends: docs/api.md, "Busy hub") is no open stream: it
 * rejects with an error whose `refused` is that reason and `retryMs` the wait it asks for,
 * so that a caller can come back as EventSource would.
 */
/** A refusal's whole body: `retry` and the reason, nothing else (an opening says `: connected`). */
const REFUSAL = /^retry: (\d+)\n: (?!connected\n)([a-z_]+)\n\n$/;

export function subscribe(port, { path, headers = {} }, { onData, onEnd, timeoutMs = 30_000 }) {
  return new Promise((resolve, reject) => {
    let opened = false;
    let settled = false;
    let live = false; // resolved as an open stream
    let head = ''; // response head, until the blank line
    let chunked = false;
    let pending = ''; // undecoded transfer-encoding bytes
    let left = 0; // bytes left in the current chunk
    let needCrlf = false; // a chunk's data ended: its CRLF comes next
    let events = ''; // decoded body not yet split into SSE frames
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setNoDelay(true);
    socket.setEncoding('latin1'); // one char per byte: chunk sizes count chars (the bench's data is ASCII)
    const fail = (error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    };
    const timer = setTimeout(() => fail(new Error(`subscribe: not open after ${timeoutMs} ms`)), timeoutMs);
    socket.on('connect', () => {
      let req = `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n`;
      for (const [k, v] of Object.entries(headers)) req += `${k}: ${v}\r\n`;
      socket.write(`${req}\r\n`);
    });
    const frames = (text, at) => {
      events += text;
      let start = 0;
      for (let end = events.indexOf('\n\n'); end !== -1; end = events.indexOf('\n\n', start)) {
        // A frame: find its data line (fields are "name: value" lines).
        let d = events.indexOf('data: ', start);
        if (d !== -1 && d < end && (d === start || events.charCodeAt(d - 1) === 10)) {
          d += 6;
          const eol = events.indexOf('\n', d);
          onData(events.slice(d, eol === -1 || eol > end ? end : eol), at);
        }
        start = end + 2;
      }
      if (start) events = events.slice(start);
    };
    const dechunk = (input) => {
      const text = pending + input;
      let pos = 0;
      let out = '';
      for (;;) {
        if (left > 0) {
          const take = Math.min(left, text.length - pos);
          out += text.substr(pos, take);
          pos += take;
          left -= take;
          if (left > 0) break;
          needCrlf = true;
        }
        if (needCrlf) {
          if (text.length - pos < 2) break;
          pos += 2;
          needCrlf = false;
        }
        const eol = text.indexOf('\r\n', pos);
        if (eol === -1) break;
        left = parseInt(text.slice(pos, eol), 16);
        pos = eol + 2;
        if (!left) {
          socket.end(); // the last chunk: the response is over
          break;
        }
      }
      pending = text.slice(pos);
      return out;
    };
    socket.on('data', (chunk) => {
      const at = now();
      let body = chunk;
      if (!opened) {
        head += chunk;
        const blank = head.indexOf('\r\n\r\n');
        if (blank === -1) {
          if (head.length > 65536) fail(new Error('subscribe: response head too large'));
          return;
        }
        const status = Number(head.slice(9, 12));
        if (status !== 200) return fail(new Error(`subscribe answered ${status}`));
        chunked = /\r\ntransfer-encoding:[^\r]*chunked/i.test(head.slice(0, blank));
        body = head.slice(blank + 4);
        head = '';
        opened = true;
      }
      const text = chunked ? dechunk(body) : body;
      const refusal = !settled && opened ? REFUSAL.exec(text) : null;
      if (refusal)
        return fail(
          Object.assign(new Error(`subscribe refused: ${refusal[2]} (retry in ${refusal[1]} ms)`), { refused: refusal[2], retryMs: Number(refusal[1]) }),
        );
      if (!settled && opened && text.length) {
        settled = true;
        live = true;
        clearTimeout(timer);
        resolve({
          close: () => {
            closed = true;
            socket.destroy();
          },
        });
      }
      if (text.length) frames(text, at);
    });
    let closed = false;
    const ended = (error) => {
      if (!settled) return fail(error ?? new Error('subscribe: the connection closed before the stream opened'));
      if (closed || !live) return; // closed by us, or it never opened (already rejected)
      closed = true;
      onEnd?.();
    };
    socket.on('end', () => ended());
    socket.on('error', (error) => ended(error));
    socket.on('close', () => ended());
  });
}

/** Runs `fn(i)` for i in [0, n) with at most `concurrency` at once; returns settled results. */
export async function pool(n, concurrency, fn) {
  const results = new Array(n);
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      try {
        results[i] = { ok: true, value: await fn(i) };
      } catch (error) {
        results[i] = { ok: false, error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  return results;
}

/** Waits until a target answers GET /healthz with 200; rejects if `child` exits or after `timeoutMs`. */
export async function waitHealthy(port, child, output, what, timeoutMs = 60_000) {
  const http = client(port, { maxSockets: 1 });
  try {
    for (const until = Date.now() + timeoutMs; Date.now() < until; ) {
      if (child.exitCode !== null) throw new Error(`${what} exited (${child.exitCode}):\n${output()}`);
      try {
        if ((await http.request('GET', '/healthz', { timeoutMs: 2000 })).status === 200) return;
      } catch {}
      await sleep(200);
    }
    throw new Error(`${what} did not answer /healthz within ${timeoutMs / 1000} s:\n${output()}`);
  } finally {
    http.close();
  }
}
