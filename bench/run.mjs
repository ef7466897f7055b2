#!/usr/bin/env node
// Herald's benchmark: starts the hub as `npm run dev` runs it (wrangler dev, loopback
// only), opens S subscribers on one channel, publishes M events stamped with their send
// time, and reports delivery, latency, throughput, CPU per delivery and memory per
// subscriber, read from /proc for the hub's whole process tree. Bounded in count and
// time; stops the hub at the end. Results go to docs/benchmarks.md.
//
//   npm run bench                      # the default workloads
//   npm run bench -- --quick           # one small workload, for a smoke check
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const KEY = 'herald-dev-key';
const QUICK = process.argv.includes('--quick');
const WORKLOADS = QUICK
  ? [{ subscribers: 50, events: 100 }]
  : [
      { subscribers: 100, events: 500 },
      { subscribers: 1000, events: 100 },
      { subscribers: 100, events: 500, rate: 100 },
    ];
const DEADLINE_MS = 5 * 60_000;
const started = Date.now();
const deadline = () => {
  if (Date.now() - started > DEADLINE_MS) throw new Error('benchmark passed its 5-minute bound');
};
const TICKS = 100; // clock ticks per second for /proc/<pid>/stat on Linux
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });

async function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

async function startHub() {
  const port = await freePort();
  const persist = await mkdtemp(path.join(os.tmpdir(), 'herald-bench-'));
  const child = spawn(
    process.execPath,
    [path.join(ROOT, 'node_modules/wrangler/bin/wrangler.js'), 'dev', '--ip', '127.0.0.1', '--port', String(port), '--persist-to', persist, '--log-level', 'warn'],
    { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: 'false', WRANGLER_SEND_METRICS: 'false' } },
  );
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (i > 300) throw new Error(`wrangler dev did not start:\n${output}`);
    try {
      if ((await fetch(`${base}/healthz`)).ok) break;
    } catch {}
    await sleep(200);
  }
  return {
    base,
    pid: child.pid,
    async stop() {
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {}
      for (let i = 0; i < 50 && child.exitCode === null; i++) await sleep(100);
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {}
      await rm(persist, { recursive: true, force: true });
    },
  };
}

/** CPU seconds and resident bytes of a process and all its descendants. */
async function treeUsage(rootPid) {
  const children = new Map();
  const stats = new Map();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ppid = Number(fields[1]);
      stats.set(Number(entry), { cpu: (Number(fields[11]) + Number(fields[12])) / TICKS, rss: Number(fields[21]) * 4096 });
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(entry));
    } catch {}
  }
  let cpu = 0;
  let rss = 0;
  const queue = [rootPid];
  while (queue.length) {
    const pid = queue.pop();
    const s = stats.get(pid);
    if (s) {
      cpu += s.cpu;
      rss += s.rss;
    }
    queue.push(...(children.get(pid) ?? []));
  }
  return { cpu, rss };
}

/** A raw SSE subscriber that records each event's arrival against the time it carries. */
function subscribe(base, channel, { lastEventId, onEvent }) {
  return new Promise((resolve, reject) => {
    const headers = { Accept: 'text/event-stream' };
    if (lastEventId !== undefined) headers['Last-Event-ID'] = String(lastEventId);
    const req = http.get(`${base}/v1/channels/${channel}/events`, { agent: false, headers }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`subscribe answered ${res.statusCode}`));
      res.setEncoding('utf8');
      let buffer = '';
      let opened = false;
      res.on('data', (chunk) => {
        buffer += chunk;
        let end;
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (!opened && frame.includes(': connected')) {
            opened = true;
            resolve({ close: () => req.destroy() });
          }
          const id = /^id: (\d+)$/m.exec(frame);
          const data = /^data: (.*)$/m.exec(frame);
          if (id && data) onEvent(Number(id[1]), data[1], now());
        }
      });
    });
    req.on('error', reject);
  });
}

async function publish(base, channel, body) {
  const res = await fetch(`${base}/v1/channels/${channel}/events`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
    dispatcher: undefined,
  });
  if (res.status !== 201) throw new Error(`publish answered ${res.status}: ${await res.text()}`);
  return res.json();
}

const percentile = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : NaN);

async function runWorkload({ subscribers, events, rate }) {
  const hub = await startHub();
  try {
    const channel = `bench-${crypto.randomUUID()}`;
    await publish(hub.base, channel, { data: 'warm-up' });
    const idle = await treeUsage(hub.pid);
    const latencies = [];
    let delivered = 0;
    const t0 = now();
    const subs = [];
    for (let i = 0; i < subscribers; i += 50) {
      deadline();
      const batch = Array.from({ length: Math.min(50, subscribers - i) }, () =>
        subscribe(hub.base, channel, {
          onEvent: (_, data, at) => {
            delivered++;
            latencies.push(at - JSON.parse(data).t);
          },
        }),
      );
      subs.push(...(await Promise.all(batch)));
    }
    const connectMs = now() - t0;
    await sleep(500);
    const held = await treeUsage(hub.pid);
    const before = await treeUsage(hub.pid);
    const p0 = now();
    for (let i = 0; i < events; i++) {
      if (i % 50 === 0) deadline();
      await publish(hub.base, channel, { data: { t: now(), i } });
      if (rate) await sleep(1000 / rate);
    }
    const publishMs = now() - p0;
    const expected = subscribers * events;
    for (let i = 0; i < 600 && delivered < expected; i++) await sleep(50);
    const deliverMs = now() - p0;
    const after = await treeUsage(hub.pid);
    for (const s of subs) s.close();

    // Publish acknowledgements per second in batches of 100, with no subscribers.
    const batchChannel = `bench-batch-${crypto.randomUUID()}`;
    const b0 = now();
    for (let i = 0; i < 20; i++) await publish(hub.base, batchChannel, { events: Array.from({ length: 100 }, (_, j) => ({ data: `e${i}-${j}` })) });
    const batchRate = (20 * 100) / ((now() - b0) / 1000);

    // Replay of 1,000 retained events to a resuming subscriber.
    const replayChannel = `bench-replay-${crypto.randomUUID()}`;
    for (let i = 0; i < 10; i++) await publish(hub.base, replayChannel, { events: Array.from({ length: 100 }, () => ({ data: { t: 0 } })) });
    let replayed = 0;
    const r0 = now();
    const replayer = await subscribe(hub.base, replayChannel, { lastEventId: 0, onEvent: () => replayed++ });
    for (let i = 0; i < 400 && replayed < 1000; i++) await sleep(25);
    const replayMs = now() - r0;
    replayer.close();

    latencies.sort((a, b) => a - b);
    return {
      subscribers,
      events,
      rate: rate ?? 'max',
      connectMs,
      delivered,
      expected,
      p50: percentile(latencies, 50),
      p90: percentile(latencies, 90),
      p99: percentile(latencies, 99),
      max: latencies.at(-1) ?? NaN,
      deliveriesPerSec: delivered / (deliverMs / 1000),
      publishesPerSec: events / (publishMs / 1000),
      batchEventsPerSec: batchRate,
      cpuUsPerDelivery: ((after.cpu - before.cpu) * 1e6) / Math.max(delivered, 1),
      memPerSubscriberKB: (held.rss - idle.rss) / subscribers / 1024,
      replay1000Ms: replayed >= 1000 ? replayMs : NaN,
    };
  } finally {
    await hub.stop();
  }
}

const fmt = (n, digits = 1) => (typeof n === 'number' ? (Number.isFinite(n) ? n.toFixed(digits) : 'n/a') : String(n));

const results = [];
for (const workload of WORKLOADS) {
  deadline();
  process.stdout.write(`S=${workload.subscribers} M=${workload.events} rate=${workload.rate ?? 'max'} … `);
  const r = await runWorkload(workload);
  results.push(r);
  console.log(`delivered ${r.delivered}/${r.expected}, p99 ${fmt(r.p99)} ms, ${fmt(r.cpuUsPerDelivery)} µs CPU/delivery`);
}

const table = [
  '| S | M | rate (ev/s) | connect (ms) | delivered / expected | p50 (ms) | p90 | p99 | max | deliveries/s | publish acks/s | batch events/s | CPU µs / delivery | RSS KB / subscriber | replay 1000 (ms) |',
  '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ...results.map((r) =>
    `| ${r.subscribers} | ${r.events} | ${r.rate} | ${fmt(r.connectMs, 0)} | ${r.delivered} / ${r.expected} | ${fmt(r.p50)} | ${fmt(r.p90)} | ${fmt(r.p99)} | ${fmt(r.max)} | ${fmt(r.deliveriesPerSec, 0)} | ${fmt(r.publishesPerSec, 0)} | ${fmt(r.batchEventsPerSec, 0)} | ${fmt(r.cpuUsPerDelivery)} | ${fmt(r.memPerSubscriberKB)} | ${fmt(r.replay1000Ms, 0)} |`,
  ),
].join('\n');

const report = `# Herald benchmarks

Latest run: ${new Date().toISOString()} on ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB,
Node ${process.version}, the hub under \`wrangler dev\` (as \`npm run dev\` runs it: a Node proxy
and workerd), loopback only. Command: \`npm run bench${QUICK ? ' -- --quick' : ''}\`.

${table}

How to read it:
- **delivered / expected**: every subscriber should get every event (S × M); anything less is loss.
- **latency**: from just before the publish request is sent to the subscriber parsing the
  event, in the same Node process (one clock). It includes the publish round trip through
  the wrangler proxy.
- **CPU µs / delivery**: user + system CPU of the hub's whole process tree (wrangler's Node
  proxy and workerd) while the events were published and delivered, divided by deliveries.
  The load generator's own CPU is not counted, but it shares the machine's 2 cores.
- **RSS KB / subscriber**: the tree's resident memory with the subscribers connected, less
  the same with none, per subscriber. It includes the proxy's per-connection memory.
- **publish acks/s**: single-event publishes acknowledged per second, one at a time;
  **batch events/s**: events per second published in batches of 100.
- **replay 1000**: time for a subscriber resuming with \`Last-Event-ID: 0\` to receive 1,000
  retained events.
`;
await writeFile(path.join(ROOT, 'docs/benchmarks.md'), report);
console.log(`\n${table}\n\nwritten to docs/benchmarks.md`);
process.exit(0);
