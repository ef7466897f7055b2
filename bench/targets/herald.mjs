// Herald, several ways: `herald-dev` as `npm run dev` runs it (wrangler dev: wrangler's Node
// process, its proxy worker in one workerd and the Worker in another); `herald-workerd`, the
// Worker and its Durable Object alone in one workerd process through Miniflare, as two
// isolates; `herald-old`, the same for the design before issue 8 (commit 9aaa5aa, extracted
// at start); `herald-shared`, herald-workerd in one isolate; and `workerd-floor`, a minimal
// broadcaster in that same setup, for the runtime's own cost. Issue 9: `herald-relays` and
// `herald-norelay`, the working tree as three isolates (edge, root, relays) with and
// without relays.
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

/** Herald's HTTP API (docs/api.md), the same under both modes. */
function heraldApi(port) {
  const http = client(port);
  /** The channel's info (docs/api.md): subscribers (relays' reports included), relays, lastEventId, … */
  const channelInfo = async (channel) => {
    const res = await http.request('GET', `/v1/channels/${channel}`, { headers: AUTH });
    if (res.status !== 200) throw new Error(`channel info answered ${res.status}`);
    return JSON.parse(res.body);
  };
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
      return (await channelInfo(channel)).subscribers;
    },
    channelInfo,
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
  description:
    'Herald under `wrangler dev` as `npm run dev` runs it: wrangler (Node), its proxy worker in one workerd process, the Worker and its Durable Object in another; SQLite persisted to a temporary folder',
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
      [
        path.join(ROOT, 'node_modules/wrangler/bin/wrangler.js'),
        'dev',
        '--ip',
        '127.0.0.1',
        '--port',
        String(port),
        '--persist-to',
        persist,
        '--log-level',
        'warn',
        '--show-interactive-dev-session=false',
      ],
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
 * One DevTools session on one isolate of workerd's inspector (workerd serves one session per
 * isolate). `used()` is the isolate's used V8 heap after a full collection: workerd's
 * inspector does not answer HeapProfiler.collectGarbage, but taking a heap snapshot
 * collects first; the snapshot itself is discarded.
 */
async function isolateSession(inspectorPort, id) {
  const list = await (await fetch(`http://127.0.0.1:${inspectorPort}/json/list`)).json();
  const target = list.find((t) => t.id === id);
  if (!target) throw new Error(`no isolate ${id} in workerd's inspector (${list.map((t) => t.id).join(', ')})`);
  const ws = new WebSocket(target.webSocketDebuggerUrl, { maxPayload: 1 << 30 });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  let id_ = 0;
  const pending = new Map();
  ws.on('message', (raw) => {
    const msg = JSON.parse(raw.toString());
    if (msg.id) pending.get(msg.id)?.(msg); // snapshot chunks (no id) are dropped
  });
  const send = (method, params = {}) =>
    Promise.race([
      new Promise((resolve) => {
        pending.set(++id_, resolve);
        ws.send(JSON.stringify({ id: id_, method, params }));
      }),
      sleep(120_000).then(() => ({ error: { message: `${method}: no answer in 120 s` } })),
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
    /** One DevTools call on this session. */
    call,
    close: () => ws.close(),
  };
}

/** Lines of the target's output that announce a new instance of the channel object (miniflare-host.mjs). */
const CONSTRUCTED = /herald-bench: channel object constructed/g;

/**
 * Starts miniflare-host.mjs. `entry`: another Worker than Herald's src/index.ts; `commit`:
 * Herald as it was at that commit (extracted to a temporary folder by the host); `split`:
 * the edge Worker and the Durable Object as two workers (two isolates) in the one workerd,
 * or `3`: the edge Worker, the Channel object (the root) and the Relay objects as three;
 * `vars`: Worker vars over wrangler.toml's (RELAY_AFTER, RELAY_SIZE, …).
 */
async function startMiniflare({ entry, commit, split = false, vars } = {}, { inspector = false } = {}) {
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
      ...(commit ? { HERALD_BENCH_COMMIT: commit } : {}),
      ...(split ? { HERALD_BENCH_SPLIT: split === 3 ? '3' : '1' } : {}),
      ...(vars ? { HERALD_BENCH_VARS: JSON.stringify(vars) } : {}),
      ...(inspectorPort ? { HERALD_BENCH_INSPECTOR_PORT: String(inspectorPort) } : {}),
    },
  });
  const output = capture(child);
  let constructions = 0;
  child.stdout.on('data', (d) => (constructions += String(d).match(CONSTRUCTED)?.length ?? 0));
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
  // The edge Worker's isolate and the Durable Object's (the same one unless split).
  const isolates = {};
  if (inspectorPort) {
    try {
      isolates.edge = await isolateSession(inspectorPort, 'core:user:herald');
      isolates.object = split ? await isolateSession(inspectorPort, 'core:user:herald-channel') : isolates.edge;
      // Three workers: the relays' isolate (every Relay object of the process runs in it).
      if (split === 3) isolates.relay = await isolateSession(inspectorPort, 'core:user:herald-relay');
      // Miniflare's own entry worker, which every request passes through first (not Herald).
      isolates.entry = await isolateSession(inspectorPort, 'core:entry');
    } catch (error) {
      for (const s of new Set(Object.values(isolates))) s.close();
      await stop();
      throw error;
    }
  }
  return {
    ...api,
    measuredPids: async () => workerd,
    bundle: path.join(persist, 'bundle', 'index.js'), // the Worker as workerd runs it (for profiles)
    inspectorPort,
    split,
    ...(inspectorPort ? { isolates, heapUsed: () => isolates.object.used(), inspect: isolates.edge.call } : {}),
    /** How many channel objects were constructed so far (a rebuilt one counts again). */
    constructions: () => constructions,
    output,
    async stop() {
      for (const s of new Set(Object.values(isolates))) s.close();
      api.http.close();
      await stop();
    },
  };
}

/** The commit before "Hibernating channels" (issue 8): the object held every SSE stream. */
export const OLD_DESIGN_COMMIT = '9aaa5aa';

export const heraldWorkerd = {
  name: 'herald-workerd',
  description: `Herald as in the working tree (issue 8: the edge Worker holds each subscriber's stream, the channel object one hibernatable WebSocket per subscriber) in a single workerd process through Miniflare (no wrangler, no proxy worker), the edge Worker and the Durable Object as two workers, so two V8 isolates, as in production; SQLite persisted to a temporary folder; only the workerd process is measured; RELAY_AFTER=30000, so the one object serves every subscriber (issue 8 compares one object's fan-out; relays: --suite relays)`,
  batch: true,
  // workerd dup()s every accepted socket. Running out only refuses the connections past
  // the limit (logged: "HTTP connection failed: dup(): Too many open files"). The edge's
  // WebSocket to the object stays inside the process: no descriptor.
  fdsPerSubscriber: 2,
  isolateHeap: true,
  inspectable: true,
  // RELAY_AFTER at its maximum: issue 8's comparison is of one object's fan-out (relays
  // have their own suite, `--suite relays`).
  start: (options) => startMiniflare({ split: true, vars: { RELAY_AFTER: '30000' } }, options),
};

export const heraldOld = {
  name: 'herald-old',
  description: `Herald before issue 8 (commit ${OLD_DESIGN_COMMIT}: the channel's Durable Object holds every subscriber's SSE stream and never hibernates), its src/ and wrangler.toml extracted with \`git archive\` into a temporary folder at each start and served exactly as herald-workerd is (same Miniflare host, same two-isolate layout)`,
  batch: true,
  fdsPerSubscriber: 2,
  isolateHeap: true,
  inspectable: true,
  start: (options) => startMiniflare({ commit: OLD_DESIGN_COMMIT, split: true }, options),
};

/** The current design with the edge Worker and the object in one isolate (the layout of the runs before issue 8). */
export const heraldShared = {
  name: 'herald-shared',
  description:
    'herald-workerd with the edge Worker and the Durable Object in one worker, so one isolate (the layout used before issue 8): what the split costs or saves',
  batch: true,
  fdsPerSubscriber: 2,
  isolateHeap: true,
  inspectable: true,
  start: (options) => startMiniflare({}, options),
};

export const workerdFloor = {
  name: 'workerd-floor',
  description:
    'not Herald: a 70-line Durable Object broadcaster (bench/targets/workerd-floor-worker.js) in the same single workerd, in memory, no storage, auth, validation, heartbeats or backpressure: what the runtime itself costs per subscriber and per delivery',
  batch: true,
  fdsPerSubscriber: 2,
  isolateHeap: true,
  start: (options) => startMiniflare({ entry: path.join(ROOT, 'bench/targets/workerd-floor-worker.js') }, options),
};

/**
 * Issue 9's relays: the working tree as three workers (three isolates) in one workerd, the
 * edge Worker (`herald`), the channel's own object, the root (`herald-channel`, Channel
 * only) and the relay objects (`herald-relay`, Relay only), with RELAY_AFTER and RELAY_SIZE
 * set. `herald-norelay` is the same layout with RELAY_AFTER at its maximum (30,000), so the
 * root serves every subscriber itself: the fan-out as it was before relays.
 */
export function heraldRelaysTarget({ relayAfter = 1000, relaySize = 1000 } = {}) {
  return {
    name: 'herald-relays',
    description: `Herald as in the working tree with relays (issue 9): RELAY_AFTER=${relayAfter}, RELAY_SIZE=${relaySize}; one workerd process through Miniflare, the edge Worker, the channel's object (the root) and the relay objects as three workers, so three V8 isolates (every relay object in the one relay isolate); SQLite persisted to a temporary folder; only the workerd process is measured`,
    relayAfter,
    relaySize,
    batch: true,
    fdsPerSubscriber: 2,
    isolateHeap: true,
    inspectable: true,
    start: (options) => startMiniflare({ split: 3, vars: { RELAY_AFTER: String(relayAfter), RELAY_SIZE: String(relaySize) } }, options),
  };
}

export function heraldNorelayTarget({ relaySize = 1000 } = {}) {
  return {
    name: 'herald-norelay',
    description: `herald-relays with RELAY_AFTER=30000 (its maximum): the root serves every subscriber itself, one WebSocket send per subscriber per event, as before relays; same three-worker layout (the relay isolate idle)`,
    relayAfter: 30_000,
    relaySize,
    batch: true,
    fdsPerSubscriber: 2,
    isolateHeap: true,
    inspectable: true,
    start: (options) => startMiniflare({ split: 3, vars: { RELAY_AFTER: '30000', RELAY_SIZE: String(relaySize) } }, options),
  };
}

export const heraldRelays = heraldRelaysTarget();
export const heraldNorelay = heraldNorelayTarget();
