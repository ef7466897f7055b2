// Herald, two ways: `herald-dev` as `npm run dev` runs it (wrangler dev: wrangler's Node
// process, its proxy worker in one workerd and the Worker in another), and
// `herald-workerd`, the Worker alone in one workerd process through Miniflare; and
// `workerd-floor`, a minimal broadcaster in that same setup, for the runtime's own cost.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { client, freePort, sleep, waitHealthy } from '../lib/http.mjs';
import { descendantsNamed } from '../lib/proc.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const KEY = 'herald-dev-key';
const AUTH = { Authorization: `Bearer ${KEY}` };

/** Herald's HTTP API (shared/API.md), the same under both modes. */
function heraldApi(port) {
  const http = client(port);
  return {
    port,
    http,
    async publish(channel, datas) {
      const body = JSON.stringify(datas.length === 1 ? { data: datas[0] } : { events: datas.map((data) => ({ data })) });
      const res = await http.request('POST', `/v1/channels/${channel}/events`, { headers: { ...AUTH, 'Content-Type': 'application/json' }, body });
      if (res.status !== 201) throw new Error(`publish answered ${res.status}: ${res.body.slice(0, 200)}`);
      return { lastId: JSON.parse(res.body).ids.at(-1) };
    },
    subscribeRequest(channel, resumeAfter) {
      return { path: `/v1/channels/${channel}/events`, headers: resumeAfter === undefined ? {} : { 'Last-Event-ID': resumeAfter } };
    },
    async subscriberCount(channel) {
      const res = await http.request('GET', `/v1/channels/${channel}`, { headers: AUTH });
      if (res.status !== 200) throw new Error(`channel info answered ${res.status}`);
      return JSON.parse(res.body).subscribers;
    },
  };
}


/** Stops a detached child and its process group: SIGTERM, then SIGKILL after `graceMs`. */
async function stopGroup(child, graceMs = 5000) {
  const signal = (sig) => {
    try {
      process.kill(-child.pid, sig);
    } catch {}
  };
  signal('SIGTERM');
  for (let i = 0; i < graceMs / 100 && child.exitCode === null && child.signalCode === null; i++) await sleep(100);
  signal('SIGKILL');
  await sleep(100);
}

function capture(child) {
  let out = '';
  const add = (d) => {
    out += d;
    if (out.length > 20_000) out = out.slice(-10_000);
  };
  child.stdout?.on('data', add);
  child.stderr?.on('data', add);
  return () => out;
}

export const heraldDev = {
  name: 'herald-dev',
  description: 'Herald under `wrangler dev` as `npm run dev` runs it: wrangler (Node), its proxy worker in one workerd process, the Worker and its Durable Object in another; SQLite persisted to a temporary folder',
  batch: true,
  // wrangler's proxy workerd holds each subscriber's incoming connection (two descriptors:
  // workerd dup()s accepted sockets) and its own connection to the Worker's workerd:
  // measured, 4,744 subscribers exhausted 20,000. Running out crashes the proxy's runtime
  // (every stream lost), so a workload that needs more is not run.
  fdsPerSubscriber: 4,
  fdExhaustionFatal: true,
  async start() {
    const port = await freePort();
    const persist = await mkdtemp(path.join(os.tmpdir(), 'herald-bench-dev-'));
    const child = spawn(
      process.execPath,
      [path.join(ROOT, 'node_modules/wrangler/bin/wrangler.js'), 'dev', '--ip', '127.0.0.1', '--port', String(port), '--persist-to', persist, '--log-level', 'warn', '--show-interactive-dev-session=false'],
      {
        cwd: ROOT,
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: 'false', WRANGLER_SEND_METRICS: 'false', CI: '1' },
      },
    );
    const output = capture(child);
    try {
      await waitHealthy(port, child, output, 'wrangler dev');
    } catch (error) {
      await stopGroup(child);
      await rm(persist, { recursive: true, force: true });
      throw error;
    }
    const api = heraldApi(port);
    return {
      ...api,
      // The whole tree: wrangler's Node process, esbuild's service and both workerd processes.
      measuredPids: async () => [child.pid],
      output,
      async stop() {
        api.http.close();
        await stopGroup(child);
        await rm(persist, { recursive: true, force: true });
      },
    };
  },
};

/**
 * The isolate's V8 heap through workerd's DevTools inspector: `used()` is the used heap of
 * the Worker's isolate (where the Durable Object lives: what its 128 MB limit is about)
 * after a full collection. workerd's inspector does not answer HeapProfiler.collectGarbage,
 * but taking a heap snapshot collects first; the snapshot itself is discarded.
 */
async function isolateHeap(inspectorPort) {
  const list = await (await fetch(`http://127.0.0.1:${inspectorPort}/json/list`)).json();
  const target = list.find((t) => /core:user:/.test(t.title)) ?? list[0];
  const ws = new WebSocket(target.webSocketDebuggerUrl, { maxPayload: 1 << 30 });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  let id = 0;
  const pending = new Map();
  ws.on('message', (raw) => {
    const msg = JSON.parse(raw.toString());
    if (msg.id) pending.get(msg.id)?.(msg); // snapshot chunks (no id) are dropped
  });
  const send = (method, params = {}) =>
    Promise.race([
      new Promise((resolve) => {
        pending.set(++id, resolve);
        ws.send(JSON.stringify({ id, method, params }));
      }),
      sleep(60_000).then(() => ({ error: { message: `${method}: no answer in 60 s` } })),
    ]);
  const call = async (method, params) => {
    const msg = await send(method, params);
    if (msg.error) throw new Error(msg.error.message);
    return msg.result;
  };
  await call('HeapProfiler.enable');
  return {
    async used() {
      await call('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
      return (await call('Runtime.getHeapUsage')).usedSize;
    },
    /** One DevTools call on this session (workerd's inspector serves one session per isolate). */
    call,
    close: () => ws.close(),
  };
}

/** Starts miniflare-host.mjs on `entry` (undefined: Herald's src/index.ts). */
async function startMiniflare(entry, { inspector = false } = {}) {
  const inspectorPort = inspector ? await freePort() : undefined;
  const port = await freePort();
  const persist = await mkdtemp(path.join(os.tmpdir(), 'herald-bench-workerd-'));
  const child = spawn(process.execPath, [path.join(ROOT, 'bench/targets/miniflare-host.mjs'), String(port), persist], {
    cwd: ROOT,
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: {
      ...process.env,
      CLOUDFLARE_CF_FETCH_ENABLED: 'false',
      WRANGLER_SEND_METRICS: 'false',
      ...(entry ? { HERALD_BENCH_ENTRY: entry } : {}),
      ...(inspectorPort ? { HERALD_BENCH_INSPECTOR_PORT: String(inspectorPort) } : {}),
    },
  });
  const output = capture(child);
  const stop = async () => {
    child.stdin.end();
    await stopGroup(child);
    await rm(persist, { recursive: true, force: true });
  };
  let workerd;
  try {
    await waitHealthy(port, child, output, 'Miniflare');
    workerd = await descendantsNamed(child.pid, 'workerd');
    if (workerd.length !== 1) throw new Error(`expected one workerd process under Miniflare, found ${workerd.length}`);
  } catch (error) {
    await stop();
    throw error;
  }
  const api = heraldApi(port);
  let heap;
  if (inspectorPort) {
    try {
      heap = await isolateHeap(inspectorPort);
    } catch (error) {
      await stop();
      throw error;
    }
  }
  return {
    ...api,
    measuredPids: async () => workerd,
    bundle: path.join(persist, 'bundle', 'index.js'), // the Worker as workerd runs it (for profiles)
    inspectorPort,
    ...(heap ? { heapUsed: () => heap.used(), inspect: heap.call } : {}),
    output,
    async stop() {
      heap?.close();
      api.http.close();
      await stop();
    },
  };
}

export const heraldWorkerd = {
  name: 'herald-workerd',
  description: 'the same Worker in a single workerd process through Miniflare (no wrangler, no proxy worker); SQLite persisted to a temporary folder; only the workerd process is measured',
  batch: true,
  // workerd dup()s every accepted socket. Running out only refuses the connections past
  // the limit (logged: "HTTP connection failed: dup(): Too many open files").
  fdsPerSubscriber: 2,
  isolateHeap: true,
  start: (options) => startMiniflare(undefined, options),
};

export const workerdFloor = {
  name: 'workerd-floor',
  description: 'not Herald: a 70-line Durable Object broadcaster (bench/targets/workerd-floor-worker.js) in the same single workerd, in memory, no storage, auth, validation, heartbeats or backpressure: what the runtime itself costs per subscriber and per delivery',
  batch: true,
  fdsPerSubscriber: 2,
  isolateHeap: true,
  start: (options) => startMiniflare(path.join(ROOT, 'bench/targets/workerd-floor-worker.js'), options),
};
