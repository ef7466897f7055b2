#!/usr/bin/env node
/**
 * bench/scale.mjs: a model of ONE Herald channel with up to 1,000,000 subscribers spread
 * over the nine Durable Object regions, fanned out through relay objects (issue 9).
 * docs/scale.md explains it; this script prints its tables as markdown and writes the
 * numbers to docs/scale.json.
 *
 *   node bench/scale.mjs                 # or: npx node bench/scale.mjs
 *   node bench/scale.mjs --out /tmp/scale.json --seed 7
 *
 * Plain Node ESM, no dependencies, deterministic (seeded PRNG); about a minute.
 *
 * What it models, per the code (src/channel.ts, src/relay.ts, src/route.ts, src/placement.ts):
 * - the channel object (root) serves RELAY_AFTER subscribers itself; the others go to
 *   relay objects of up to RELAY_SIZE subscribers, one set per region (locationHint);
 * - each subscriber's Worker holds one WebSocket to the object serving it; a relay holds
 *   one outgoing WebSocket to the root, so the root sends one message per relay and per
 *   direct subscriber (relays first, as #broadcast does), and each relay one per subscriber;
 * - the root's 10 ms coalescing exactly as src/channel.ts #queue/#flush does it (a
 *   publish after a quiet spell goes at once; within 10 ms of the last broadcast's start
 *   it waits for the window; Date.now() is the time the handler began, since it does not
 *   advance during execution in Workers); a relay forwards each message as it comes;
 * - placement as route.ts, placement.ts and relay.ts do it (placementSim): the root names
 *   at most ⌊(MAX_SUBSCRIBERS − RELAY_AFTER) / RELAY_SIZE⌋ relays and sends a subscriber to
 *   the first relay of its region with room by its view; its 307 (and its direct answer)
 *   says how many relays the region has (n), and for 30 s the Worker isolate sends that region's new subscribers to
 *   random relays of [0, n), asking the root after two full ones; while the isolate's
 *   request to the root is on its way, its new subscribers wait for the answer (`asking`);
 *   relays refuse past RELAY_SIZE, report their counts, linger 10 s with nobody;
 * - one thread per object: the root's and every relay's work are queued on their own
 *   single server; publishes arrive as a Poisson process.
 *
 * Every input is in the constants below with where it comes from: MEASURED (the bench
 * run cited), DOCUMENTED (a published price, limit or figure, with its URL) or ASSUMED.
 */

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = join(HERE, '..');

// ---------------------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------------------

/** The bench run every MEASURED input comes from (docs/benchmarks.md, docs/benchmarks.json). */
const BENCH_RUN = {
  date: '2026-12-02T07:07:25.482Z',
  command: 'npm run bench -- --deadline-min 34',
  commit: '9e9ceee',
  target: 'herald-workerd',
};

/** MEASURED, per delivery or per operation; all times in ms. */
const MEASURED = {
  // The object's CPU per ws.send: 1000x200 process CPU 53.6 µs/delivery × the object
  // isolate's profiled share 14.3 % = 7.7 µs (docs/cost.md's c_obj). A lower bound: the
  // runtime's work carrying the message after send() is outside every isolate.
  cSendLow: 0.0077,
  // The highest object figure measured: 16.7 µs/delivery, profiled, 9000x20 (the profiler
  // inflates CPU 1.2–2.4×, so this is high for the object's own work; it stands in for the
  // share of the runtime's work that runs on the object's thread).
  cSendHigh: 0.0167,
  // Edge Worker CPU per delivery: 53.6 × 15.9 % = 8.5 µs (edge isolate, JS + GC + native);
  // 53.6 − 7.7 = 46 µs if all the runtime's unattributed work is billed to the Worker.
  cEdgeLow: 0.0085,
  cEdgeHigh: 0.046,
  // Whole hub per single-event publish, one at a time: 272 acknowledged/s → 3.7 ms. An upper
  // bound for the object (it includes HTTP and the Worker). docs/cost.md's t_pub and cpu_pub.
  tPub: 3.7,
  // Whole hub per subscriber opened: 1,000 opened in 1,164 ms (200 at a time), 1000x200.
  // Also used, as an upper bound, for the root's 307 answer and a relay's attach, neither
  // measured (a 307 does much less than an attach: no WebSocketPair, no replay).
  tOpen: 1.164,
  // Worker CPU per stream opened, docs/cost.md's cpu_open (= cpu_pub, an upper bound).
  cpuOpen: 3.7,
  // Extra active time when a request wakes a hibernated object (docs/cost.md t_wake).
  tWake: 25,
  // Nchan, same run: whole process CPU per delivery, µs: 100x500 / 1000x200 / 1000x300@100 / 9000x20.
  nchanCpuUs: [7.2, 10.4, 6.2, 12.7],
  // Nchan RSS per subscriber, KB: 1000x200 / 1000x300@100 / 9000x20.
  nchanKBPerSub: [10.6, 10.7, 10.1],
  // Nchan single-event publishes acknowledged per second.
  nchanPubPerSec: 3896,
};

/**
 * MEASURED elsewhere, a cross-check only (not used in the sums): the relays bench
 * (docs/relays-bench.md, `npm run bench -- --suite relays`, run 2026-12-02T08:31:32.577Z,
 * commit 3bc7795), the relay isolate's profiled CPU per delivery a relay made, µs, at
 * 3000x60 and 9000x20 (9.1 and 15.5 over all deliveries). The same kind of figure as
 * cSendHigh (profiled). Locally the relay hop costs far more process CPU (all objects share
 * workerd's one thread there): not a production cost, not used.
 */
const RELAY_BENCH = {
  date: '2026-12-02T08:31:32.577Z',
  command: 'npm run bench -- --suite relays',
  commit: '3bc7795',
  relayUsPerRelayedDelivery: [13.59, 17.48],
  relayUsPerDelivery: [9.06, 15.54],
};

/** The design (src/config.ts defaults, src/channel.ts, issue 9). */
const DESIGN = {
  relayAfter: 1000, // RELAY_AFTER
  relaySize: 1000, // RELAY_SIZE
  coalesceMs: 10, // COALESCE_MS in src/channel.ts
  streamMaxS: 3600, // STREAM_MAX_SECONDS (±10 %: the mean is 3600)
  countEveryS: 2, // a relay reports its count at most once per 2 s, only when it changed (REPORT_MS)
  // placement.ts: a subscriber the root sent to a relay counts on top of the relay's count
  // until the relay says its count SENT_HOLD_MS after the send, or for SENT_FORGET_MS at most
  sentHoldMs: 1000,
  sentForgetMs: 10_000,
  maxSubscribers: 1_000_000, // MAX_SUBSCRIBERS
  // The root names at most ⌊(MAX_SUBSCRIBERS − RELAY_AFTER) / RELAY_SIZE⌋ relays (channel.ts fetch)
  rememberS: 30, // REMEMBER_SECONDS (X-Herald-Remember): how long a Worker isolate keeps a region's relay count n (route.ts)
  guesses: 2, // GUESSES in route.ts: random relays of [0, n) a subscribe tries before asking the root
  maxHops: 6, // MAX_HOPS in route.ts: attempts per subscribe, then `unavailable`
  lingerMs: 10_000, // LINGER_MS (relay.ts): a relay with nobody keeps its socket to the root this long
  retryMs: 2000, // RETRY_MS: a recycled stream comes back this long after it ended
  fullRetryMs: 10_000, // FULL_RETRY_MS: after channel_full
  unavailableRetryMs: 1000, // UNAVAILABLE_RETRY_MS: after unavailable, plus up to as much again
  linkReattachMs: 1000, // REATTACH_BASE_MS (link.ts): a Worker's first re-attach window, doubling to 30 s
  relayReattachMs: 5000, // RELAY_REATTACH_BASE_MS (relay.ts): a relay's first re-attach window to the root
  tailBytes: 1024 * 1024, // TAIL_BYTES: a relay's tail of the root's recent messages
  replayStepBytes: 64 * 1024, // REPLAY_STEP_BYTES: one relayRead step
};

/** DOCUMENTED prices (docs/cost.md, Workers Paid; read 2026-12) and limits. */
const PRICES = {
  monthS: 2_592_000, // docs/cost.md: a month is 30 days
  workerReqIncl: 10e6,
  workerReqPerM: 0.3,
  workerCpuInclMs: 30e6,
  workerCpuPerMms: 0.02,
  doReqIncl: 1e6,
  doReqPerM: 0.15,
  doGbsIncl: 400_000,
  doGbsPerM: 12.5,
  rowsWIncl: 50e6,
  rowsWPerM: 1.0,
  gbPerObject: 0.128,
  plan: 5,
  wsIncomingPerRequest: 20, // incoming WebSocket messages bill at 20:1
};
const LIMITS = {
  reqPerSecSoft: 1000, // docs/platform.md: ~1,000 requests/s per object (200–500/s with writes)
  reqPerSecSoftWrites: [200, 500],
  hibernatableSockets: 32_768, // docs/platform.md
  subrequestsPerRequest: 10_000, // https://developers.cloudflare.com/workers/platform/limits/
};

/** ASSUMED: not measured here. */
const ASSUMED = {
  // The output gate holds outgoing messages until the SQLite write is durable: forwarded
  // to five followers in nearby data centres, confirmed by three
  // (https://blog.cloudflare.com/sqlite-in-durable-objects/). Its latency is not published.
  tCommit: 5,
  // One-way latency between the root and a relay in the root's own region.
  sameRegionOneWay: 1,
  // Where the channel's root object is (created near its first request; the publisher's).
  rootRegion: 'enam',
  // Object CPU to handle one relay count message (assumed equal to one send).
  cCountMsgFactor: 1,
  // Worker isolates that serve one channel's subscribers in each region, each with its own
  // memory of how many relays the root named in the region (route.ts). Not published: Cloudflare runs a Worker in
  // an isolate per machine that serves it. The middle one is used unless a table says.
  isolatesPerRegion: [100, 300, 1000],
  isolatesCentral: 300,
  // After a deploy every stream ends and its client comes back RETRY_MS later, spread evenly
  // over this long (how fast streams end in a deploy is not published).
  deployWindowS: 10,
  // ... and the old streams' sockets at the relays close evenly over this long: the old
  // Workers noticing that their streams ended (not published either).
  deployLeaveS: 5,
};

const REGIONS = ['wnam', 'enam', 'sam', 'weur', 'eeur', 'apac', 'oc', 'afr', 'me'];

/**
 * Which Azure region stands for each Durable Object location hint (Cloudflare does not
 * publish which data centres host objects for a hint): an ASSUMPTION.
 */
const AZURE_PROXY = {
  wnam: 'West US',
  enam: 'East US',
  sam: 'Brazil South',
  weur: 'West Europe',
  eeur: 'Poland North',
  apac: 'Southeast Asia',
  oc: 'Australia East',
  afr: 'South Africa North',
  me: 'UAE North',
};

/**
 * DOCUMENTED: round-trip times in ms between those Azure regions, monthly P50 over the 30
 * days ending 2024-06-19, "Azure network round-trip latency statistics",
 * https://learn.microsoft.com/en-us/azure/networking/azure-network-latency (source:
 * MicrosoftDocs/azure-docs, articles/networking/azure-network-latency.md, ms.date
 * 06/20/2024). Each pair is the mean of the two directions the tables give.
 */
const RTT_PAIRS = {
  'wnam-enam': 72.5,
  'wnam-sam': 186,
  'wnam-weur': 154.5,
  'wnam-eeur': 174,
  'wnam-apac': 171.5,
  'wnam-oc': 140,
  'wnam-afr': 294.5,
  'wnam-me': 254.5,
  'enam-sam': 117.5,
  'enam-weur': 89.5,
  'enam-eeur': 112,
  'enam-apac': 233.5,
  'enam-oc': 201,
  'enam-afr': 226,
  'enam-me': 185.5,
  'sam-weur': 185.5,
  'sam-eeur': 209.5,
  'sam-apac': 343.5,
  'sam-oc': 316.5,
  'sam-afr': 326.5,
  'sam-me': 287,
  'weur-eeur': 23.5,
  'weur-apac': 190,
  'weur-oc': 286.5,
  'weur-afr': 163,
  'weur-me': 122.5,
  'eeur-apac': 203.5,
  'eeur-oc': 302,
  'eeur-afr': 179.5,
  'eeur-me': 136,
  'apac-oc': 93,
  'apac-afr': 187.5,
  'apac-me': 89,
  'oc-afr': 279.5,
  'oc-me': 180,
  'afr-me': 103,
};

/**
 * Round trip from a subscriber's edge location to the object's data centre inside the same
 * region, drawn uniformly in [lo, hi] ms for each subscriber. hi is the largest RTT in the
 * same Azure table between the proxy region and its neighbours where the table has them
 * (named); elsewhere an ASSUMPTION (marked).
 */
const INTRA_RTT = {
  wnam: { lo: 2, hi: 27, from: 'West US ↔ West US 2/3, West Central US: 19–27 ms' },
  enam: { lo: 2, hi: 38, from: 'East US ↔ Canada Central, North/South Central US: 20–38 ms' },
  sam: { lo: 2, hi: 60, from: 'ASSUMED (one Azure region in South America)' },
  weur: { lo: 2, hi: 27, from: 'West Europe ↔ UK, France, North Europe, Italy, Norway, Sweden: 11–27 ms' },
  eeur: { lo: 2, hi: 45, from: 'ASSUMED (Poland North ↔ Germany, Sweden, Norway 13–31 ms; nothing further east in the table)' },
  apac: { lo: 2, hi: 73, from: 'Southeast Asia ↔ East Asia, India, Korea, Japan: 36–73 ms' },
  oc: { lo: 2, hi: 30, from: 'ASSUMED (Australia East ↔ Southeast, Central 10–16 ms; New Zealand not in the table)' },
  afr: { lo: 2, hi: 100, from: 'ASSUMED (South Africa North ↔ West 20 ms; no Azure region elsewhere in Africa)' },
  me: { lo: 2, hi: 60, from: 'ASSUMED (UAE North ↔ Qatar 17 ms; Israel 144 ms is routed via Europe)' },
};

/**
 * Where one channel's subscribers are: ASSUMED to follow Internet users. Continental
 * shares from Internet World Stats, Q1 2020, as reported by
 * https://datacenternews.asia/story/asia-home-to-half-of-the-world-s-internet-users
 * (Asia 50.3 %, Europe 15.9, Africa 11.5, Latin America/Caribbean 10.1, North America 7.6,
 * Middle East 3.9, Oceania 0.6). Split into the nine hints by this script's assumptions:
 * Mexico, Central America and the Caribbean (about 2.9 of Latin America's 10.1) are
 * Cloudflare's NA; of NA so counted, 2.9 points are west of 100° W (wnam: about a quarter of
 * the US and Canada, half of Mexico); about 35 % of Europe's users are east of 20° E (eeur:
 * European Russia, Ukraine, Belarus, Turkey, Romania, Greece, Finland, the Baltics, the
 * Balkans' east, Warsaw). Normalised to 100.
 */
const SPREAD_RAW = { wnam: 2.9, enam: 7.6, sam: 7.2, weur: 10.3, eeur: 5.6, apac: 50.3, oc: 0.6, afr: 11.5, me: 3.9 };

/**
 * DOCUMENTED: Centrifugo's published test, "Million connections with Centrifugo",
 * 2020-02-10, https://centrifugal.dev/blog/2020/02/10/million-connections-with-centrifugo
 * (source: centrifugal/centrifugal.dev, blog/2020-02-10-million-connections-with-centrifugo.md).
 */
const CENTRIFUGO = {
  connections: 1_000_000,
  pods: 20,
  cpus: 40,
  ramGB: 27,
  deliveredPerMin: 28e6,
  p99ms: 200,
  redisShards: 5,
  redisCpuEach: 0.32,
  idleCpus: 10,
  messageBytes: 100,
  churnPerMin: 200_000,
  workload: 'each connection on 2 channels: a personal one and a group of 10 subscribers (about 1.1 million channels)',
};

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const rtt = (a, b) => (a === b ? 2 * ASSUMED.sameRegionOneWay : (RTT_PAIRS[`${a}-${b}`] ?? RTT_PAIRS[`${b}-${a}`]));
const oneWay = (a, b) => rtt(a, b) / 2;

const SPREAD = (() => {
  const total = Object.values(SPREAD_RAW).reduce((s, v) => s + v, 0);
  return Object.fromEntries(REGIONS.map((r) => [r, SPREAD_RAW[r] / total]));
})();

/** Splits n by the shares with the largest-remainder method: integers that add up to n. */
function apportion(n, shares) {
  const exact = REGIONS.map((r) => n * shares[r]);
  const out = exact.map(Math.floor);
  let left = n - out.reduce((s, v) => s + v, 0);
  const order = exact.map((v, i) => [v - Math.floor(v), i]).sort((x, y) => y[0] - x[0] || x[1] - y[1]);
  for (let k = 0; left > 0; k++, left--) out[order[k % order.length][1]]++;
  return Object.fromEntries(REGIONS.map((r, i) => [r, out[i]]));
}

const fmt = (v, digits = 0) => (v === Infinity ? '∞' : Number(v).toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }));
const money = (v) => `$${fmt(v, v < 100 ? 2 : 0)}`;

// ---------------------------------------------------------------------------------------
// Topology: who serves whom
// ---------------------------------------------------------------------------------------

/**
 * N subscribers: the root serves the first RELAY_AFTER (spread like everyone), the rest fill
 * relays in their own region, RELAY_SIZE each, the last one of a region partly full.
 */
function topology(N, { relayAfter = DESIGN.relayAfter, relaySize = DESIGN.relaySize } = {}) {
  const direct = Math.min(N, relayAfter);
  const relayed = N - direct;
  const directBy = apportion(direct, SPREAD);
  const relayedBy = apportion(relayed, SPREAD);
  const relays = [];
  const relaysBy = {};
  for (const region of REGIONS) {
    let n = relayedBy[region];
    relaysBy[region] = Math.ceil(n / relaySize);
    while (n > 0) {
      relays.push({ region, n: Math.min(relaySize, n) });
      n -= relaySize;
    }
  }
  return { N, direct, relayed, directBy, relayedBy, relaysBy, relays, R: relays.length, rootSockets: direct + relays.length };
}

// ---------------------------------------------------------------------------------------
// Background load on the root: placement and count reports
// ---------------------------------------------------------------------------------------

/** P(a relay's count changed over a 2 s report interval): arrivals and departures Poisson. */
function countChangeProbability(n) {
  const lambda = (n / DESIGN.streamMaxS) * DESIGN.countEveryS; // each way, per interval
  // P(A = D) for two independent Poisson(lambda): sum_k (e^-l l^k / k!)^2
  let p = Math.exp(-lambda);
  let same = p * p;
  for (let k = 1; k < 200; k++) {
    p *= lambda / k;
    same += p * p;
    if (p < 1e-12) break;
  }
  return 1 - same;
}

/**
 * The root's load besides publishing: the subscribe requests that reach it (attaches and
 * 307s: `place.rootPerOpen` per stream opened, from placementSim) and the relays' counts.
 */
function background(topo, { cSend, place, tOpen = MEASURED.tOpen }) {
  const opensPerSec = topo.N / DESIGN.streamMaxS;
  const rootReqPerSec = opensPerSec * place.rootPerOpen;
  const countMsgsPerSec = topo.relays.reduce((s, r) => s + countChangeProbability(r.n) / DESIGN.countEveryS, 0);
  const util = (rootReqPerSec * tOpen) / 1000 + (countMsgsPerSec * cSend * ASSUMED.cCountMsgFactor) / 1000;
  return { opensPerSec, rootReqPerSec, countMsgsPerSec, util };
}

// ---------------------------------------------------------------------------------------
// Placement: which subscribes reach the root (src/route.ts, src/placement.ts, channel.ts fetch)
// ---------------------------------------------------------------------------------------

/** A binary min-heap of events (time, then insertion order), in typed arrays. */
class EventQueue {
  #cap = 1 << 16;
  #t = new Float64Array(this.#cap);
  #q = new Float64Array(this.#cap);
  #f = new Int32Array(this.#cap * 5); // type, a, b, c, d
  #heap = new Int32Array(this.#cap); // slots, heap-ordered
  #free = [];
  #next = 0;
  #n = 0;
  #seq = 0;
  get size() {
    return this.#n;
  }
  /** The time of the first event, or Infinity. */
  get first() {
    return this.#n > 0 ? this.#t[this.#heap[0]] : Infinity;
  }
  #grow() {
    const cap = this.#cap * 2;
    const grow = (a, n) => {
      const b = new a.constructor(n);
      b.set(a);
      return b;
    };
    this.#t = grow(this.#t, cap);
    this.#q = grow(this.#q, cap);
    this.#f = grow(this.#f, cap * 5);
    this.#heap = grow(this.#heap, cap);
    this.#cap = cap;
  }
  #less(x, y) {
    return this.#t[x] < this.#t[y] || (this.#t[x] === this.#t[y] && this.#q[x] < this.#q[y]);
  }
  push(t, type, a = 0, b = 0, c = 0, d = 0) {
    let slot = this.#free.pop();
    if (slot === undefined) {
      if (this.#next === this.#cap) this.#grow();
      slot = this.#next++;
    }
    this.#t[slot] = t;
    this.#q[slot] = this.#seq++;
    const f = this.#f;
    const o = slot * 5;
    f[o] = type;
    f[o + 1] = a;
    f[o + 2] = b;
    f[o + 3] = c;
    f[o + 4] = d;
    const h = this.#heap;
    let i = this.#n++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.#less(slot, h[p])) break;
      h[i] = h[p];
      i = p;
    }
    h[i] = slot;
  }
  /** Removes the first event into `out` (t, type, a, b, c, d). */
  pop(out) {
    const h = this.#heap;
    const top = h[0];
    const last = h[--this.#n];
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= this.#n) break;
      const r = l + 1;
      const c = r < this.#n && this.#less(h[r], h[l]) ? r : l;
      if (this.#less(last, h[c])) break;
      h[i] = h[c];
      i = c;
    }
    h[i] = last;
    const f = this.#f;
    const o = top * 5;
    out.t = this.#t[top];
    out.type = f[o];
    out.a = f[o + 1];
    out.b = f[o + 2];
    out.c = f[o + 3];
    out.d = f[o + 4];
    this.#free.push(top);
    return out;
  }
}

/** A first-in, first-out queue of requests of six numbers each: kind, four fields, when it came (a growing ring). */
class Fifo {
  #a = new Float64Array(6 * 16);
  #head = 0;
  #n = 0;
  get size() {
    return this.#n;
  }
  push(type, a, b, c, d, at) {
    let x = this.#a;
    const cap = x.length / 6;
    if (this.#n === cap) {
      const y = new Float64Array(x.length * 2);
      for (let i = 0; i < this.#n; i++) y.set(x.subarray(((this.#head + i) % cap) * 6, ((this.#head + i) % cap) * 6 + 6), i * 6);
      this.#a = x = y;
      this.#head = 0;
    }
    const o = ((this.#head + this.#n++) % (x.length / 6)) * 6;
    x[o] = type;
    x[o + 1] = a;
    x[o + 2] = b;
    x[o + 3] = c;
    x[o + 4] = d;
    x[o + 5] = at;
  }
  shift(out) {
    const x = this.#a;
    const o = this.#head * 6;
    out.type = x[o];
    out.a = x[o + 1];
    out.b = x[o + 2];
    out.c = x[o + 3];
    out.d = x[o + 4];
    out.at = x[o + 5];
    this.#head = (this.#head + 1) % (x.length / 6);
    this.#n--;
    return out;
  }
}

/** A deploy simulation stops when nobody has got in for this long. */
const STUCK_S = 300;

const EV = {
  ARRIVE: 0,
  RELAY_IN: 1,
  RELAY_FREE: 2,
  RELAY_FULL: 3,
  ROOT_IN: 4,
  ROOT_RELAY_IN: 5,
  ROOT_COUNT: 6,
  ROOT_CLOSE: 7,
  ROOT_FREE: 8,
  ROOT_ANS: 9,
  RELAY_UP: 10,
  REPORT: 11,
  LINGER: 12,
  DEPART: 13,
  GHOST_LEAVE: 14,
  REATTACH: 15,
};

/**
 * How subscribes find their place, as src/route.ts, src/placement.ts, src/relay.ts and the
 * Channel's fetch do it.
 *
 * The root (one server, FIFO: subscribes and relay attaches at `tOpen` each, count messages
 * and closes at `cMsg`) serves RELAY_AFTER subscribers itself; past that it answers 307 with
 * the first relay of the subscriber's region that has room by its view (the count the relay
 * last said, 0 while the relay is not attached, plus the subscribers sent there after
 * SENT_HOLD_MS before that, for SENT_FORGET_MS at most; a relay refused as full is skipped
 * until it says its count again), else names the region's next relay while the channel has
 * fewer than ⌊(MAX_SUBSCRIBERS − RELAY_AFTER) / RELAY_SIZE⌋, else the first relay of any
 * region with room by its view, else channel_full. The 307 says how many relays the region
 * has (n), and so does a direct answer when the region has relays (channel.ts #spread); the
 * Worker isolate remembers n for REMEMBER_SECONDS (forgets it when a direct answer says no
 * n; channel_full leaves it), and a subscribe that comes to an isolate
 * that remembers n tries a random relay of [0, n) first, another one if that is full
 * (GUESSES = 2), then the root with `full=`; a relay the root named that is full leads to
 * the guesses left, then the root again; MAX_HOPS attempts, then `unavailable` (back in
 * 1–2 s, through any isolate). A subscribe that comes to an isolate that knows no n while
 * the isolate's request to the root for the region (the first on its way, whoever made it:
 * route.ts `asking`) is on its way waits for that answer, then guesses, or goes to the root
 * itself (without waiting again) if the answer left no n.
 * Each relay is one server taking `tOpen` per attach; it refuses past RELAY_SIZE, reports
 * its count REPORT_MS after a change (only if it differs from the last it said), lingers
 * LINGER_MS with nobody and then closes its socket to the root; a relay without a socket to
 * the root opens one at its next attach (a root request) and the attaches wait for it.
 *
 * mode 'steady': N subscribers on packed relays (topology()), each stream recycled every
 *   STREAM_MAX_SECONDS (Poisson, N / 3600 a second), back RETRY_MS later through one of
 *   `isolates` Worker isolates of its region, at random; counts over `measureS` after
 *   `warmS`.
 * mode 'deploy': every stream ends at t = 0; the root restarts (it keeps how many relays it
 *   named, from storage, and nothing else); the isolates are fresh; the old streams'
 *   sockets at the relays close evenly over `leaveS` (the old Workers noticing), and each
 *   relay re-attaches to the root within RELAY_REATTACH_BASE_MS saying its count then; the
 *   clients come back RETRY_MS after the end, evenly over `windowS`. `relaysRestart`: the
 *   relays restart too, empty, each opening its socket to the root at its first attach.
 *   Counts until the last subscriber is attached; stops if nobody gets in for STUCK_S.
 * `previous` (the code before 9bd10cf): no waiting, every subscribe without n asks the root;
 *   channel_full and a direct answer make the isolate forget n.
 */
function placementSim(
  N,
  {
    isolates,
    mode = 'steady',
    maxSubscribers = DESIGN.maxSubscribers,
    tOpen = MEASURED.tOpen,
    cMsg = MEASURED.cSendLow,
    warmS = 120,
    measureS = 600,
    windowS = ASSUMED.deployWindowS,
    leaveS = ASSUMED.deployLeaveS,
    relaysRestart = false,
    previous = false,
    seed = 1,
    rootRegion = ASSUMED.rootRegion,
  },
) {
  const rng = mulberry32(seed);
  const S = DESIGN.relaySize;
  const nReg = REGIONS.length;
  const maxRelays = Math.max(0, Math.floor((maxSubscribers - DESIGN.relayAfter) / S));
  const directMax = Math.min(DESIGN.relayAfter, maxSubscribers);
  const q = new EventQueue();
  const toRoot = REGIONS.map((r) => oneWay(r, rootRegion));
  // A Worker to a relay: the mean one way inside the region, or between regions.
  const intra = REGIONS.map((r) => (INTRA_RTT[r].lo + INTRA_RTT[r].hi) / 4);

  // Relays, by id. The relay's own state: rN subscribers (old streams not yet gone
  // included), rLinked (0 no socket to the root, 1 opening its first, 2 has one, which rUp
  // says is up or re-attaching), the attaches waiting for its socket, its report timer and
  // the count it last said. The root's view: rAtRoot (it holds the relay's socket), rCount
  // (the count said on it), rRepAt, the sends not yet in the count (rSent from rSentHead),
  // rFull (refused since its last count).
  const rRegion = [],
    rN = [],
    rLinked = [],
    rUp = [],
    rWait = [],
    rBusy = [],
    rFifo = [];
  const rReportGen = [],
    rReportPending = [],
    rLastRep = [],
    rLingerGen = [];
  const rAtRoot = [],
    rCount = [],
    rRepAt = [],
    rSent = [],
    rSentHead = [],
    rFull = [];
  const byRegion = REGIONS.map(() => []);
  const named = new Array(nReg).fill(0);
  let totalNamed = 0;
  const newRelay = (g) => {
    const id = rRegion.length;
    rRegion.push(g);
    rN.push(0);
    rLinked.push(0);
    rUp.push(false);
    rWait.push([]);
    rBusy.push(false);
    rFifo.push(new Fifo());
    rReportGen.push(0);
    rReportPending.push(false);
    rLastRep.push(0);
    rLingerGen.push(0);
    rAtRoot.push(false);
    rCount.push(0);
    rRepAt.push(0);
    rSent.push([]);
    rSentHead.push(0);
    rFull.push(false);
    byRegion[g].push(id);
    return id;
  };
  const way = (g, k) => (rRegion[k] === g ? intra[g] : oneWay(REGIONS[g], REGIONS[rRegion[k]]));

  // The root: placement.ts.
  let direct = 0;
  /** #pending: the sends after max(count said − SENT_HOLD_MS, now − SENT_FORGET_MS). */
  const pending = (k, t) => {
    const since = Math.max(rRepAt[k] - DESIGN.sentHoldMs, t - DESIGN.sentForgetMs);
    const sent = rSent[k];
    let h = rSentHead[k];
    while (h < sent.length && sent[h] <= since) h++;
    if (h === sent.length && h > 0) {
      rSent[k] = [];
      h = 0;
    } else if (h > 4096) {
      rSent[k] = sent.slice(h);
      h = 0;
    }
    rSentHead[k] = h;
    return rSent[k].length - h;
  };
  const hasRoom = (k, t) => !rFull[k] && (rAtRoot[k] ? rCount[k] : 0) + pending(k, t) < S;
  const place = (g, t) => {
    let key = -1;
    for (let i = 0; i < named[g] && key < 0; i++) if (hasRoom(byRegion[g][i], t)) key = byRegion[g][i];
    if (key < 0 && totalNamed < maxRelays) {
      if (byRegion[g].length === named[g]) newRelay(g);
      key = byRegion[g][named[g]++];
      totalNamed++;
    }
    for (let h = 0; h < nReg && key < 0; h++) {
      for (let i = 0; i < named[h] && key < 0; i++) if (hasRoom(byRegion[h][i], t)) key = byRegion[h][i];
    }
    if (key >= 0) rSent[key].push(t);
    return key;
  };
  /** placement.ts reported(): the relay attached or said its count. */
  const reported = (k, t) => {
    rRepAt[k] = t;
    rFull[k] = false;
  };

  // Each isolate's memory (route.ts `known`), per region: n and until when.
  const memN = REGIONS.map(() => new Int32Array(isolates));
  const memUntil = REGIONS.map(() => new Float64Array(isolates));
  const inflight = REGIONS.map(() => new Uint8Array(isolates));
  const waiters = REGIONS.map(() => new Map());
  const forget = (g, iso) => {
    memN[g][iso] = 0;
  };
  /** When each isolate first heard n from the root (deploy). */
  const heard = REGIONS.map(() => new Float64Array(isolates).fill(Infinity));
  /** route.ts guess(): a random relay of the region other than `not`; -1 when none is known. */
  const guess = (g, iso, t, not) => {
    const n = memN[g][iso];
    if (n <= 0 || memUntil[g][iso] <= t) return -1;
    const i = Math.floor(rng() * n);
    const k = byRegion[g][i];
    return n > 1 && k === not ? byRegion[g][(i + 1) % n] : k;
  };

  // Subscribers: region, where attached (-2 direct, a relay id, -1 not), and the attached
  // ones in a list to draw whose stream ends.
  const sReg = new Uint8Array(N);
  const sLoc = new Int32Array(N).fill(-1);
  const att = new Int32Array(N);
  const posOf = new Int32Array(N).fill(-1);
  let attached = 0;
  const attach = (s, loc) => {
    sLoc[s] = loc;
    posOf[s] = attached;
    att[attached++] = s;
  };
  const detach = (s) => {
    const p = posOf[s];
    const moved = att[--attached];
    att[p] = moved;
    posOf[moved] = p;
    posOf[s] = -1;
    sLoc[s] = -1;
  };

  const c = {
    opens: 0,
    subscribes: 0,
    rootSub: 0,
    rootRelay: 0,
    rootMsgs: 0,
    relayReq: 0,
    relayRefused: 0,
    viaMemory: 0,
    guesses: 0,
    guessesIn: 0,
    cross: 0,
    channelFull: 0,
    unavailable: 0,
    waited: 0,
  };
  let measuring = mode === 'deploy';
  const attachTimes = [];
  let lastAttach = 0;
  let rootWaitMax = 0;
  let rootLastBusy = 0;
  const attachedAt = (t) => {
    lastAttach = Math.max(lastAttach, t);
    if (mode === 'deploy') attachTimes.push(t);
  };

  // An attempt's state: hop (bits 0–2), guesses made (3–4), this one a guess (5), the
  // isolate's leading request to the root (6); in a root's answer, n from bit 7.
  const ST = (hop, guesses, isGuess = 0, leader = 0) => hop | (guesses << 3) | (isGuess << 5) | (leader << 6);
  const hopOf = (st) => st & 7;
  const guessesOf = (st) => (st >> 3) & 3;
  const unavailable = (s, t) => {
    if (measuring) c.unavailable++;
    q.push(t + DESIGN.unavailableRetryMs * (1 + rng()), EV.ARRIVE, s);
  };
  const toRelay = (s, iso, st, k, t) => q.push(t + way(sReg[s], k), EV.RELAY_IN, s, iso, st, k);
  /** A request to the root; the first on its way from the isolate for the region is the one others wait for (route.ts `asking`). */
  const toRootReq = (s, iso, st, full, t) => {
    const g = sReg[s];
    if (!previous && !inflight[g][iso]) {
      inflight[g][iso] = 1;
      st |= 64;
    }
    q.push(t + toRoot[g], EV.ROOT_IN, s, iso, st, full);
  };
  /** A subscribe reaches a Worker isolate (route.ts: the constructor's guess, then attach). */
  const dispatch = (s, iso, t, mayWait = true) => {
    const g = sReg[s];
    const k = guess(g, iso, t, -1);
    if (k >= 0) {
      if (measuring) {
        c.viaMemory++;
        c.guesses++;
      }
      return toRelay(s, iso, ST(0, 1, 1), k, t);
    }
    if (!previous && mayWait && inflight[g][iso]) {
      // route.ts attach: no relay known and a request to the root on its way: wait for it.
      if (measuring) c.waited++;
      const list = waiters[g].get(iso);
      if (list) list.push(s);
      else waiters[g].set(iso, [s]);
      return;
    }
    toRootReq(s, iso, ST(0, 0), -1, t);
  };
  /** The awaited answer is in: those waiting guess again, or ask the root themselves. */
  const release = (g, iso, t) => {
    inflight[g][iso] = 0;
    const list = waiters[g].get(iso);
    if (!list) return;
    waiters[g].delete(iso);
    for (const s of list) dispatch(s, iso, t, false);
  };

  // A relay: its report timer and its linger (relay.ts #changed).
  const changed = (k, t) => {
    if (rLinked[k] === 2 && !rReportPending[k]) {
      rReportPending[k] = true;
      q.push(t + DESIGN.countEveryS * 1000, EV.REPORT, k, rReportGen[k]);
    }
    rLingerGen[k]++;
    if (rN[k] === 0) q.push(t + DESIGN.lingerMs, EV.LINGER, k, rLingerGen[k]);
  };
  const relayTakes = (t, s, k) => {
    rN[k]++;
    attach(s, k);
    if (measuring && rRegion[k] !== sReg[s]) c.cross++;
    attachedAt(t + way(sReg[s], k));
    changed(k, t);
  };
  const relayFull = (t, s, iso, st, k) => {
    if (measuring) c.relayRefused++;
    q.push(t + way(sReg[s], k), EV.RELAY_FULL, s, iso, st, k);
  };
  /** relay.ts fetch: full; or taken once the relay has its socket to the root (the first attach opens it). */
  const relayAttach = (t, s, iso, st, k) => {
    if (measuring) c.relayReq++;
    if (rN[k] >= S) return relayFull(t + tOpen, s, iso, st, k);
    if (rLinked[k] === 2) {
      if (measuring && st & 32) c.guessesIn++;
      return relayTakes(t + tOpen, s, k);
    }
    rWait[k].push(s, iso, st);
    if (rLinked[k] === 0) {
      rLinked[k] = 1;
      rLastRep[k] = rN[k];
      q.push(t + toRoot[rRegion[k]], EV.ROOT_RELAY_IN, k, rN[k]);
    }
  };

  // The root's thread.
  let rootBusy = false;
  const rootFifo = new Fifo();
  const r0 = { type: 0, a: 0, b: 0, c: 0, d: 0, at: 0 };
  const serveRoot = (t) => {
    const r = rootFifo.shift(r0);
    rootBusy = true;
    rootWaitMax = Math.max(rootWaitMax, t - r.at);
    switch (r.type) {
      case EV.ROOT_IN: {
        // channel.ts fetch, a subscriber: direct, a 307 or channel_full.
        const [s, iso, st, full] = [r.a, r.b, r.c, r.d];
        const g = sReg[s];
        if (measuring) c.rootSub++;
        if (full >= 0) rFull[full] = true;
        let key;
        if (direct < directMax) {
          direct++;
          key = -1;
        } else {
          key = place(g, t);
          if (key < 0) key = -2;
        }
        q.push(t + tOpen + toRoot[g], EV.ROOT_ANS, s, iso, st | (named[g] << 7), key);
        q.push(t + tOpen, EV.ROOT_FREE);
        rootLastBusy = t + tOpen;
        return;
      }
      case EV.ROOT_RELAY_IN: {
        // A relay attaches (as=relay, with its count).
        const k = r.a;
        if (measuring) c.rootRelay++;
        rAtRoot[k] = true;
        rCount[k] = r.b;
        reported(k, t);
        q.push(t + tOpen + toRoot[rRegion[k]], EV.RELAY_UP, k);
        q.push(t + tOpen, EV.ROOT_FREE);
        rootLastBusy = t + tOpen;
        return;
      }
      case EV.ROOT_COUNT:
        if (measuring) c.rootMsgs++;
        if (rAtRoot[r.a]) {
          rCount[r.a] = r.b;
          reported(r.a, t);
        }
        q.push(t + cMsg, EV.ROOT_FREE);
        return;
      case EV.ROOT_CLOSE:
        if (measuring) c.rootMsgs++;
        rAtRoot[r.a] = false;
        q.push(t + cMsg, EV.ROOT_FREE);
        return;
    }
  };
  const serveRelay = (k, t) => {
    const r = rFifo[k].shift(r0);
    rBusy[k] = true;
    q.push(t + tOpen, EV.RELAY_FREE, k);
    relayAttach(t, r.a, r.b, r.c, k);
  };

  // The start.
  let arrivals = new Float64Array(0);
  let arrivalWho = new Int32Array(0);
  let nextArrival = 0;
  const topo = topology(N);
  let s0 = 0;
  for (let g = 0; g < nReg; g++) for (let k = 0; k < topo.directBy[REGIONS[g]]; k++) sReg[s0++] = g;
  const relayStart = [];
  for (const relay of topo.relays) {
    const g = REGIONS.indexOf(relay.region);
    const id = newRelay(g);
    named[g]++;
    totalNamed++;
    relayStart.push([id, relay.n]);
    for (let k = 0; k < relay.n; k++) sReg[s0++] = g;
  }
  if (mode === 'steady') {
    let s = 0;
    for (; s < topo.direct; s++) attach(s, -2);
    direct = topo.direct;
    for (const [id, n] of relayStart) {
      rN[id] = rLastRep[id] = rCount[id] = n;
      rLinked[id] = 2;
      rUp[id] = rAtRoot[id] = true;
      for (let k = 0; k < n; k++) attach(s++, id);
    }
    q.push((-Math.log(1 - rng()) / (N / DESIGN.streamMaxS)) * 1000, EV.DEPART);
  } else {
    // The root restarted: it holds no socket and no count; the named relays are in storage.
    for (const [id, n] of relayStart) {
      if (relaysRestart) continue;
      rN[id] = rLastRep[id] = n;
      rLinked[id] = 2;
      q.push(rng() * DESIGN.relayReattachMs, EV.REATTACH, id);
      for (let k = 0; k < n; k++) q.push(rng() * leaveS * 1000, EV.GHOST_LEAVE, id);
    }
    // Arrival times in order (the spacings of a Poisson process, scaled), each a random subscriber.
    arrivals = new Float64Array(N);
    let sum = 0;
    for (let k = 0; k < N; k++) arrivals[k] = sum += -Math.log(1 - rng());
    sum += -Math.log(1 - rng());
    for (let k = 0; k < N; k++) arrivals[k] = DESIGN.retryMs + (arrivals[k] * windowS * 1000) / sum;
    arrivalWho = Int32Array.from({ length: N }, (_, k) => k);
    for (let k = N - 1; k > 0; k--) {
      const j = Math.floor(rng() * (k + 1));
      [arrivalWho[k], arrivalWho[j]] = [arrivalWho[j], arrivalWho[k]];
    }
  }
  const endT = mode === 'steady' ? (warmS + measureS) * 1000 : Infinity;

  const e = { t: 0, type: 0, a: 0, b: 0, c: 0, d: 0 };
  while (q.size > 0 || nextArrival < arrivals.length) {
    if (nextArrival < arrivals.length && arrivals[nextArrival] < q.first) {
      e.t = arrivals[nextArrival];
      e.type = EV.ARRIVE;
      e.a = arrivalWho[nextArrival++];
    } else q.pop(e);
    const t = e.t;
    if (t > endT) break;
    if (mode === 'deploy') {
      if (attachTimes.length === N) break;
      // Nobody got in for STUCK_S: the rest only come back to be refused.
      if (t > lastAttach + STUCK_S * 1000 && nextArrival >= arrivals.length) break;
    }
    if (!measuring && t >= warmS * 1000) measuring = true;
    switch (e.type) {
      case EV.DEPART: {
        // A stream ends (recycled); its client comes back RETRY_MS later.
        const s = att[Math.floor(rng() * attached)];
        const loc = sLoc[s];
        detach(s);
        if (loc === -2) direct--;
        else {
          rN[loc]--;
          changed(loc, t);
        }
        if (measuring) c.opens++;
        q.push(t + DESIGN.retryMs, EV.ARRIVE, s);
        q.push(t + (-Math.log(1 - rng()) / (N / DESIGN.streamMaxS)) * 1000, EV.DEPART);
        break;
      }
      case EV.GHOST_LEAVE:
        rN[e.a]--;
        changed(e.a, t);
        break;
      case EV.REATTACH:
        // The relay's link to the restarted root comes back, saying its count now.
        if (rLinked[e.a] === 2) {
          rLastRep[e.a] = rN[e.a];
          q.push(t + toRoot[rRegion[e.a]], EV.ROOT_RELAY_IN, e.a, rN[e.a]);
        }
        break;
      case EV.ARRIVE:
        if (measuring) c.subscribes++;
        dispatch(e.a, Math.floor(rng() * isolates), t);
        break;
      case EV.RELAY_IN:
        rFifo[e.d].push(0, e.a, e.b, e.c, e.d, t);
        if (!rBusy[e.d]) serveRelay(e.d, t);
        break;
      case EV.RELAY_FREE:
        rBusy[e.a] = false;
        if (rFifo[e.a].size > 0) serveRelay(e.a, t);
        break;
      case EV.RELAY_FULL: {
        // route.ts: full; another guess while it has one left, else the root with full=.
        const [s, iso, st, k] = [e.a, e.b, e.c, e.d];
        const g = sReg[s];
        const hop = hopOf(st) + 1;
        let guesses = guessesOf(st);
        const next = guesses < DESIGN.guesses ? guess(g, iso, t, k) : -1;
        if (next >= 0) guesses++;
        if (hop >= DESIGN.maxHops) unavailable(s, t);
        else if (next >= 0) {
          if (measuring) c.guesses++;
          toRelay(s, iso, ST(hop, guesses, 1), next, t);
        } else toRootReq(s, iso, ST(hop, guesses), k, t);
        break;
      }
      case EV.ROOT_IN:
      case EV.ROOT_RELAY_IN:
      case EV.ROOT_COUNT:
      case EV.ROOT_CLOSE:
        rootFifo.push(e.type, e.a, e.b, e.c, e.d, t);
        if (!rootBusy) serveRoot(t);
        break;
      case EV.ROOT_FREE:
        rootBusy = false;
        if (rootFifo.size > 0) serveRoot(t);
        break;
      case EV.ROOT_ANS: {
        // The root's answer reaches the Worker: served (remember n if the region has relays), channel_full (n stays; the previous code forgot it), or a relay (remember n).
        const [s, iso, key] = [e.a, e.b, e.d];
        const st = e.c & 127;
        const n = e.c >> 7;
        const g = sReg[s];
        if (key === -1) {
          // channel.ts #spread: a direct answer says n too when the region has relays (the previous code forgot n).
          if (previous || named[g] <= 0) forget(g, iso);
          else {
            memN[g][iso] = n;
            memUntil[g][iso] = t + DESIGN.rememberS * 1000;
            if (heard[g][iso] === Infinity) heard[g][iso] = t;
          }
          attach(s, -2);
          attachedAt(t);
        } else if (key === -2) {
          if (previous) forget(g, iso);
          if (measuring) c.channelFull++;
          q.push(t + DESIGN.fullRetryMs, EV.ARRIVE, s);
        } else {
          memN[g][iso] = n;
          memUntil[g][iso] = t + DESIGN.rememberS * 1000;
          if (heard[g][iso] === Infinity) heard[g][iso] = t;
          const hop = hopOf(st) + 1;
          if (hop >= DESIGN.maxHops) unavailable(s, t);
          else toRelay(s, iso, ST(hop, guessesOf(st)), key, t);
        }
        if (st & 64) release(g, iso, t);
        break;
      }
      case EV.RELAY_UP: {
        const k = e.a;
        rUp[k] = true;
        if (rLinked[k] !== 1) break;
        rLinked[k] = 2;
        // Those that waited for the socket, in order: each checks the size again (relay.ts).
        const waiting = rWait[k];
        rWait[k] = [];
        for (let i = 0; i < waiting.length; i += 3) {
          if (rN[k] < S) relayTakes(t, waiting[i], k);
          else relayFull(t, waiting[i], waiting[i + 1], waiting[i + 2], k);
        }
        break;
      }
      case EV.REPORT: {
        // The relay's count, REPORT_MS after a change, only when it differs from the last it said.
        const k = e.a;
        if (e.b !== rReportGen[k]) break;
        rReportPending[k] = false;
        if (rLinked[k] !== 2 || rN[k] === rLastRep[k]) break;
        if (!rUp[k]) {
          changed(k, t); // re-attaching: try again (the re-attach says the count too)
          break;
        }
        rLastRep[k] = rN[k];
        q.push(t + toRoot[rRegion[k]], EV.ROOT_COUNT, k, rN[k]);
        break;
      }
      case EV.LINGER: {
        // Nobody for LINGER_MS: the relay lets go of its socket to the root.
        const k = e.a;
        if (e.b !== rLingerGen[k] || rN[k] !== 0 || rLinked[k] !== 2) break;
        rLinked[k] = 0;
        rUp[k] = false;
        rLastRep[k] = 0;
        rReportGen[k]++;
        rReportPending[k] = false;
        q.push(t + toRoot[rRegion[k]], EV.ROOT_CLOSE, k);
        break;
      }
    }
  }

  const inUse = rN.filter((n) => n > 0).length;
  if (mode === 'steady') {
    const per = (x) => x / c.opens;
    return {
      mode,
      N,
      isolates,
      maxSubscribers,
      maxRelays,
      opensPerSec: c.opens / measureS,
      rootPerOpen: per(c.rootSub + c.rootRelay),
      rootSubPerOpen: per(c.rootSub),
      rootRelayPerOpen: per(c.rootRelay),
      rootMsgsPerSec: c.rootMsgs / measureS,
      relayPerOpen: per(c.relayReq),
      refusedPerOpen: per(c.relayRefused),
      viaMemoryPerOpen: per(c.viaMemory),
      waitedPerOpen: per(c.waited),
      guessesPerOpen: per(c.guesses),
      guessSuccess: c.guessesIn / c.guesses,
      crossPerOpen: per(c.cross),
      channelFullPerOpen: per(c.channelFull),
      unavailablePerOpen: per(c.unavailable),
      retriesPerOpen: per(c.channelFull + c.unavailable),
      rootUtil: ((c.rootSub + c.rootRelay) * tOpen) / (measureS * 1000),
      relaysNamed: totalNamed,
      relaysInUse: inUse,
      direct,
    };
  }
  attachTimes.sort((x, y) => x - y);
  const at = (p) => (Math.floor(p * N) < attachTimes.length ? attachTimes[Math.floor(p * N)] / 1000 : Infinity);
  const rootRequests = c.rootSub + c.rootRelay;
  const heardAll = heard
    .flatMap((h) => Array.from(h))
    .filter(Number.isFinite)
    .sort((x, y) => x - y);
  return {
    isolatesHeard: heardAll.length,
    isolatesHeardP50S: heardAll[Math.floor(heardAll.length / 2)] / 1000,
    isolatesHeardP90S: heardAll[Math.floor(heardAll.length * 0.9)] / 1000,
    mode,
    N,
    isolates,
    maxSubscribers,
    maxRelays,
    windowS,
    leaveS,
    relaysRestart,
    previous,
    attached: attachTimes.length,
    leftOut: N - attachTimes.length,
    p50S: at(0.5),
    p99S: at(0.99),
    lastS: at(1 - 1e-9),
    lastAttachS: attachTimes.at(-1) / 1000,
    rootRequests,
    rootSub: c.rootSub,
    rootRelay: c.rootRelay,
    rootMsgs: c.rootMsgs,
    rootBusyS: (rootRequests * tOpen) / 1000,
    rootWaitMaxS: rootWaitMax / 1000,
    rootLastBusyS: rootLastBusy / 1000,
    relayReq: c.relayReq,
    relayRefused: c.relayRefused,
    viaMemory: c.viaMemory,
    guesses: c.guesses,
    guessesIn: c.guessesIn,
    waited: c.waited,
    cross: c.cross,
    channelFull: c.channelFull,
    unavailable: c.unavailable,
    relaysNamed: totalNamed,
    relaysInUse: inUse,
  };
}

// ---------------------------------------------------------------------------------------
// The simulation: the root's thread, each relay's thread, sampled subscribers
// ---------------------------------------------------------------------------------------

const BIN_MS = 0.1;
const BINS = 200_000; // up to 20 s

function percentile(hist, total, q) {
  const target = q * total;
  let seen = 0;
  for (let i = 0; i < hist.length; i++) {
    seen += hist[i];
    if (seen >= target) return (i + 0.5) * BIN_MS;
  }
  return Infinity;
}

/**
 * Runs one configuration. Returns the root's and the busiest relay's utilisation, the
 * broadcasts per second, and (with samples > 0) the delivery latency distribution: from the
 * publish reaching the root to the event being handed to the subscriber's edge Worker.
 */
function simulate(topo, opts) {
  const {
    rate,
    events,
    cSend,
    tPub = MEASURED.tPub,
    tCommit = ASSUMED.tCommit,
    coalesceMs = DESIGN.coalesceMs,
    rootRegion = ASSUMED.rootRegion,
    order = 'relays-first',
    samples = 0,
    seed = 1,
    bgUtil = 0,
  } = opts;
  const rng = mulberry32(seed);
  const scale = 1 / (1 - Math.min(bgUtil, 0.999)); // background work interleaves with ours

  // Publishes: Poisson arrivals.
  const a = new Float64Array(events);
  let t = 0;
  for (let i = 0; i < events; i++) {
    t += (-Math.log(1 - rng()) / rate) * 1000;
    a[i] = t;
  }

  // The root's thread, #queue and #flush as in src/channel.ts.
  const B = topo.rootSockets * cSend * scale; // one broadcast: a send to every socket
  const commitAt = new Float64Array(events);
  const bStart = [];
  const bGate = [];
  const bFirst = [];
  const bLast = [];
  let busy = 0;
  let last = -Infinity;
  let timerAt = null;
  let unsent = [];
  let i = 0;
  const broadcast = (ids, at) => {
    bStart.push(at);
    let gate = 0;
    for (const id of ids) gate = Math.max(gate, commitAt[id]);
    bGate.push(gate);
    bFirst.push(ids[0]);
    bLast.push(ids[ids.length - 1]);
    busy = at + B;
  };
  while (i < events || unsent.length > 0) {
    const nextPub = i < events ? a[i] : Infinity;
    if (timerAt !== null && timerAt < nextPub) {
      const at = Math.max(timerAt, busy); // the timer runs once the thread is free
      timerAt = null;
      last = at;
      broadcast(unsent, at);
      unsent = [];
      continue;
    }
    const start = Math.max(nextPub, busy);
    const handled = start + tPub * scale;
    busy = handled;
    commitAt[i] = handled + tCommit;
    const now = start; // Date.now() does not advance while the handler runs
    if (unsent.length === 0 && now - last >= coalesceMs) {
      last = now;
      broadcast([i], handled);
    } else {
      unsent.push(i);
      if (timerAt === null) timerAt = now + Math.max(last + coalesceMs - now, 0);
    }
    i++;
  }
  const nb = bStart.length;
  // Offered load over the publishing window: above 1 the thread falls further behind.
  const span = a[events - 1];
  const rootUtil = (events * tPub + nb * topo.rootSockets * cSend) / span + bgUtil;
  const broadcastsPerSec = nb / (span / 1000);
  const fullRelayN = topo.relays.reduce((m, r) => Math.max(m, r.n), 0);
  const relayUtil = fullRelayN ? (nb * (1 + fullRelayN) * cSend) / span : 0;

  const result = {
    rate,
    events,
    broadcasts: nb,
    broadcastsPerSec,
    eventsPerBroadcast: events / nb,
    rootUtil,
    relayUtil,
    rootBroadcastMs: topo.rootSockets * cSend,
    relayBroadcastMs: (1 + fullRelayN) * cSend,
  };
  if (!samples) return result;

  // Root positions: each direct subscriber and each relay has a place in the send loop.
  const slots = topo.rootSockets;
  const perm = Array.from({ length: slots }, (_, k) => k);
  for (let k = slots - 1; k > 0; k--) {
    const j = Math.floor(rng() * (k + 1));
    [perm[k], perm[j]] = [perm[j], perm[k]];
  }
  // perm[k] = position (0-based) of socket k; sockets 0..R-1 are relays, R.. are direct.
  let relayPos;
  let directPos;
  if (order === 'relays-first') {
    // #broadcast: the relays (in attach order among themselves), then the direct subscribers
    relayPos = (j) => j;
    directPos = (k) => topo.R + k;
  } else {
    // the order before: the socket list's, relays among the direct subscribers at random
    relayPos = (j) => perm[j];
    directPos = (k) => perm[topo.R + k];
  }

  // Each relay's thread: when it starts forwarding each broadcast.
  const relayStart = topo.relays.map((relay, j) => {
    const starts = new Float64Array(nb);
    const ow = oneWay(rootRegion, relay.region);
    const service = (1 + relay.n) * cSend;
    let rb = 0;
    for (let b = 0; b < nb; b++) {
      const leave = Math.max(bStart[b] + (relayPos(j) + 1) * cSend * scale, bGate[b]);
      const s = Math.max(leave + ow, rb);
      starts[b] = s;
      rb = s + service;
    }
    return starts;
  });

  // Sampled subscribers.
  const relayCum = [];
  let acc = 0;
  for (const r of topo.relays) {
    acc += r.n;
    relayCum.push(acc);
  }
  const pickRegion = (weights) => {
    let u = rng() * REGIONS.reduce((s, r) => s + weights[r], 0);
    for (const r of REGIONS) {
      u -= weights[r];
      if (u <= 0) return r;
    }
    return REGIONS.at(-1);
  };
  const hist = new Uint32Array(BINS);
  const histBy = Object.fromEntries(REGIONS.map((r) => [r, new Uint32Array(BINS)]));
  const countBy = Object.fromEntries(REGIONS.map((r) => [r, 0]));
  let total = 0;
  let maxLatency = 0;
  const add = (region, ms) => {
    const bin = Math.min(BINS - 1, Math.max(0, Math.floor(ms / BIN_MS)));
    hist[bin]++;
    histBy[region][bin]++;
    countBy[region]++;
    total++;
    if (ms > maxLatency) maxLatency = ms;
  };
  const n = Math.min(samples, topo.N);
  for (let s = 0; s < n; s++) {
    const id = Math.floor(rng() * topo.N);
    const intraRegionOneWay = (region) => (INTRA_RTT[region].lo + rng() * (INTRA_RTT[region].hi - INTRA_RTT[region].lo)) / 2;
    if (id < topo.direct) {
      const region = pickRegion(topo.directBy);
      const pos = directPos(Math.floor(rng() * topo.direct));
      const tail = oneWay(rootRegion, region) + intraRegionOneWay(region);
      for (let b = 0; b < nb; b++) {
        const leave = Math.max(bStart[b] + (pos + 1) * cSend * scale, bGate[b]);
        for (let e = bFirst[b]; e <= bLast[b]; e++) add(region, leave + tail - a[e]);
      }
    } else {
      // a relayed subscriber: which relay (weighted by its size), which place in its loop
      const x = Math.floor(rng() * topo.relayed);
      let j = 0;
      while (relayCum[j] <= x) j++;
      const relay = topo.relays[j];
      const k = Math.floor(rng() * relay.n);
      const tail = (1 + k + 1) * cSend + intraRegionOneWay(relay.region);
      const starts = relayStart[j];
      for (let b = 0; b < nb; b++) {
        for (let e = bFirst[b]; e <= bLast[b]; e++) add(relay.region, starts[b] + tail - a[e]);
      }
    }
  }
  result.latency = {
    samples: n,
    deliveries: total,
    p50: percentile(hist, total, 0.5),
    p90: percentile(hist, total, 0.9),
    p99: percentile(hist, total, 0.99),
    max: maxLatency,
    byRegion: Object.fromEntries(
      REGIONS.filter((r) => countBy[r] > 0).map((r) => [
        r,
        {
          p50: percentile(histBy[r], countBy[r], 0.5),
          p99: percentile(histBy[r], countBy[r], 0.99),
        },
      ]),
    ),
  };
  return result;
}

/** The largest Poisson publish rate at which the root and every relay stay under 100 % busy. */
function capacity(topo, opts) {
  const feasible = (rate) => {
    const events = Math.max(3000, Math.ceil(rate * 30));
    const r = simulate(topo, { ...opts, rate, events, samples: 0 });
    return r.rootUtil < 1 && r.relayUtil < 1;
  };
  if (!feasible(0.01)) return { rate: 0 };
  let lo = 0.01;
  let hi = 20_000;
  if (feasible(hi)) return { rate: hi };
  for (let k = 0; k < 40 && hi / lo > 1.005; k++) {
    const mid = Math.sqrt(lo * hi);
    if (feasible(mid)) lo = mid;
    else hi = mid;
  }
  const at = simulate(topo, { ...opts, rate: lo, events: Math.max(3000, Math.ceil(lo * 30)), samples: 0 });
  const bound = at.rootUtil >= at.relayUtil ? 'root' : 'relay';
  return { rate: lo, bound, broadcastsPerSec: at.broadcastsPerSec, rootUtil: at.rootUtil, relayUtil: at.relayUtil };
}

// ---------------------------------------------------------------------------------------
// Cost
// ---------------------------------------------------------------------------------------

/**
 * Monthly cost of one channel: N subscribers, `rate` single-event publishes a second,
 * `broadcastsPerSec` messages per socket a second (from the simulation: coalescing joins a
 * few), `place` the requests per stream opened (placementSim). variant 'socket' (relays
 * awake, one WebSocket to the root) or 'rpc' (an RPC per broadcast per relay, relays
 * hibernate between them).
 */
function monthlyCost(topo, { rate, broadcastsPerSec, cEdge, cSend, place, variant = 'socket', incomingBilled = false }) {
  const T = PRICES.monthS;
  const opens = (topo.N * T) / DESIGN.streamMaxS; // 720 per subscriber
  const attempts = opens * (1 + place.retriesPerOpen); // a client that got channel_full or unavailable comes back
  const P = rate * T; // publishes
  const M = broadcastsPerSec * T; // messages per socket
  const bg = background(topo, { cSend, place });
  const countMsgs = bg.countMsgsPerSec * T;
  const alarms = 30; // docs/cost.md: about 30 a month for a busy channel
  const lines = [];
  const line = (name, usage, dollars, note = '') => lines.push({ name, usage, dollars, note });

  const workerReq = attempts + P;
  line(
    'Worker requests',
    workerReq,
    (Math.max(0, workerReq - PRICES.workerReqIncl) / 1e6) * PRICES.workerReqPerM,
    `${fmt(opens / 1e6, 1)} M streams opened (720 per subscriber) × ${fmt(1 + place.retriesPerOpen, 3)} attempts + ${fmt(P / 1e6, 2)} M publishes`,
  );

  const cpuMs = attempts * MEASURED.cpuOpen + P * MEASURED.tPub + M * topo.N * cEdge;
  line(
    'Worker CPU',
    cpuMs,
    (Math.max(0, cpuMs - PRICES.workerCpuInclMs) / 1e6) * PRICES.workerCpuPerMms,
    `opens × 3.7 ms + publishes × 3.7 ms + ${fmt((M * topo.N) / 1e9, 0)} billion deliveries × ${fmt(cEdge * 1000, 1)} µs`,
  );

  let doReq = opens * (place.rootPerOpen + place.relayPerOpen) + P + alarms;
  let reqNote = `per stream opened ${fmt(place.rootPerOpen, 2)} at the root (attach or 307) + ${fmt(place.relayPerOpen, 2)} at relays (refusals included); publishes`;
  if (variant === 'socket') {
    doReq += countMsgs / PRICES.wsIncomingPerRequest;
    reqNote += '; relay count messages at 20:1';
    if (incomingBilled) {
      doReq += (topo.R * M) / PRICES.wsIncomingPerRequest;
      reqNote += '; root→relay messages at 20:1 (if billed)';
    }
  } else {
    doReq += topo.R * M;
    reqNote += "; one RPC per broadcast per relay (its count rides on the RPC's answer)";
  }
  line('Durable Object requests', doReq, (Math.max(0, doReq - PRICES.doReqIncl) / 1e6) * PRICES.doReqPerM, reqNote);

  const rootActiveS = (P * MEASURED.tPub + M * topo.rootSockets * cSend) / 1000 + bg.util * T;
  let relayS;
  if (variant === 'socket') {
    relayS = topo.R * T;
  } else {
    const wake = broadcastsPerSec < 0.1 ? MEASURED.tWake : 0; // hibernated in between
    relayS = topo.relays.reduce((s, r) => s + (M * ((1 + r.n) * cSend + wake)) / 1000, 0) + (opens * place.relayPerOpen * MEASURED.tOpen) / 1000;
  }
  const gbs = (rootActiveS + relayS) * PRICES.gbPerObject;
  line(
    'Durable Object duration',
    gbs,
    (Math.max(0, gbs - PRICES.doGbsIncl) / 1e6) * PRICES.doGbsPerM,
    variant === 'socket'
      ? `${topo.R} relays awake all month (${fmt(topo.R * T * PRICES.gbPerObject, 0)} GB-s) + the root's active time`
      : `relays active ${fmt(relayS, 0)} s (each broadcast: 1 + n sends), the root's active time`,
  );

  const rows = 2 * P + alarms;
  line('SQLite rows written', rows, (Math.max(0, rows - PRICES.rowsWIncl) / 1e6) * PRICES.rowsWPerM, '2 per single-event publish');
  line('plan', 0, PRICES.plan, '');
  const total = lines.reduce((s, l) => s + l.dollars, 0);
  return { variant, cEdge, lines, total, relayDollars: variant === 'socket' ? ((topo.R * T * PRICES.gbPerObject) / 1e6) * PRICES.doGbsPerM : null };
}

/** Per relay, per month, at list price (the account's included amounts already used). */
function breakEven({ n = DESIGN.relaySize, cSend, countMsgsPerSec, incomingBilled }) {
  const T = PRICES.monthS;
  const perS = (PRICES.gbPerObject * PRICES.doGbsPerM) / 1e6; // $ per second of duration
  const awake = T * perS;
  const reqPrice = PRICES.doReqPerM / 1e6;
  const counts = countMsgsPerSec * T;
  // socket: awake + count messages at 20:1 [+ each received message at 20:1 if billed]
  // rpc: per broadcast 1 request + (1 + n) sends of duration; the count rides on the answer
  const perMsgSocket = incomingBilled ? reqPrice / PRICES.wsIncomingPerRequest : 0;
  const perMsgRpc = reqPrice + (((1 + n) * cSend) / 1000) * perS;
  const fixedSocket = awake + (counts / PRICES.wsIncomingPerRequest) * reqPrice;
  const fixedRpc = 0;
  const m = (fixedSocket - fixedRpc) / (T * (perMsgRpc - perMsgSocket));
  return {
    broadcastsPerSec: m,
    awakeDollars: awake,
    perMsgRpc,
    perMsgSocket,
    rpcAt: (r) => fixedRpc + r * T * perMsgRpc,
    socketAt: (r) => fixedSocket + r * T * perMsgSocket,
  };
}

// ---------------------------------------------------------------------------------------
// Run
// ---------------------------------------------------------------------------------------

function parseArgs(argv) {
  const args = { out: join(REPO, 'docs', 'scale.json'), seed: 20261202, samples: 20_000, write: true };
  for (let k = 0; k < argv.length; k++) {
    const a = argv[k];
    if (a === '--out') args.out = resolve(argv[++k]);
    else if (a === '--seed') args.seed = Number(argv[++k]);
    else if (a === '--samples') args.samples = Number(argv[++k]);
    else if (a === '--no-write') args.write = false;
    else if (a === '--help' || a === '-h') {
      console.log('node bench/scale.mjs [--out docs/scale.json] [--seed N] [--samples N] [--no-write]');
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  return args;
}

/** Checks the hard-coded MEASURED inputs against docs/benchmarks.json, if it is that run. */
function checkBench() {
  const file = join(REPO, 'docs', 'benchmarks.json');
  if (!existsSync(file)) return 'docs/benchmarks.json not found: inputs as cited';
  try {
    const j = JSON.parse(readFileSync(file, 'utf8'));
    if (j.info?.date !== BENCH_RUN.date) {
      return `docs/benchmarks.json is from ${j.info?.date}, not ${BENCH_RUN.date}: this model keeps the cited run's inputs`;
    }
    const w = j.results.find((r) => r.kind === 'workload' && r.target === BENCH_RUN.target && r.workload === '1000x200');
    const p = j.results.find((r) => r.kind === 'inspect' && r.target === BENCH_RUN.target && r.workload === 'inspect:1000x200');
    const cObj = (w.cpuUsPerDelivery * p.profile.object.share) / 1000;
    const cEdge = (w.cpuUsPerDelivery * p.profile.edge.share) / 1000;
    const ok = Math.abs(cObj - MEASURED.cSendLow) < 0.0001 && Math.abs(cEdge - MEASURED.cEdgeLow) < 0.0001;
    return ok
      ? `inputs match docs/benchmarks.json (run ${BENCH_RUN.date}: c_obj ${fmt(cObj * 1000, 2)} µs, c_edge ${fmt(cEdge * 1000, 2)} µs)`
      : `WARNING: docs/benchmarks.json gives c_obj ${cObj * 1000} µs, c_edge ${cEdge * 1000} µs`;
  } catch (err) {
    return `docs/benchmarks.json unreadable (${err.message}): inputs as cited`;
  }
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const out = [];
  const say = (s = '') => out.push(s);
  const SIZES = [10_000, 100_000, 1_000_000];
  const CS = [
    { name: 'low', cSend: MEASURED.cSendLow, label: '7.7 µs' },
    { name: 'high', cSend: MEASURED.cSendHigh, label: '16.7 µs' },
  ];
  const json = {
    generatedBy: 'node bench/scale.mjs',
    seed: args.seed,
    benchRun: BENCH_RUN,
    benchCheck: checkBench(),
    inputs: { MEASURED, RELAY_BENCH, DESIGN, PRICES, LIMITS, ASSUMED, AZURE_PROXY, RTT_PAIRS, INTRA_RTT, SPREAD_RAW, SPREAD, CENTRIFUGO },
    topologies: {},
    capacity: {},
    latency: {},
    cost: {},
    breakEven: {},
    storms: {},
    nchan: {},
    centrifugo: {},
  };

  say(`# Herald scale model (bench/scale.mjs, seed ${args.seed})`);
  say();
  say(`Measured inputs: bench run ${BENCH_RUN.date} (${BENCH_RUN.command}, commit ${BENCH_RUN.commit}). ${json.benchCheck}.`);
  say();

  // --- Spread and topology
  const topos = Object.fromEntries(SIZES.map((N) => [N, topology(N)]));
  for (const N of SIZES) json.topologies[N] = { ...topos[N], relays: undefined, relaySizes: topos[N].relays.map((r) => `${r.region}:${r.n}`) };
  say('## Subscribers and relays per region');
  say();
  say(`| region | Azure proxy | share | RTT from root (${ASSUMED.rootRegion}) ms | ${SIZES.map((N) => `${fmt(N)}: relayed / relays`).join(' | ')} |`);
  say(`|---|---|---:|---:|${SIZES.map(() => '---:').join('|')}|`);
  for (const r of REGIONS) {
    say(
      `| ${r} | ${AZURE_PROXY[r]} | ${fmt(SPREAD[r] * 100, 1)} % | ${fmt(rtt(ASSUMED.rootRegion, r), 1)} | ${SIZES.map((N) => `${fmt(topos[N].relayedBy[r])} / ${topos[N].relaysBy[r]}`).join(' | ')} |`,
    );
  }
  say(
    `| **total** | | 100 % | | ${SIZES.map((N) => `${fmt(topos[N].relayed)} / **${topos[N].R}** (+ ${fmt(topos[N].direct)} direct; root sends ${fmt(topos[N].rootSockets)})`).join(' | ')} |`,
  );
  say();

  // --- Placement
  const RAISED_MAX = 1_100_000;
  const ISO = ASSUMED.isolatesPerRegion;
  const WARM_S = 1800;
  json.placement = { warmS: WARM_S, measureS: 600, steady: {}, deploy: {} };
  const steady = (N, isolates, maxSubscribers = DESIGN.maxSubscribers) => {
    const key = `${N}/${maxSubscribers}/${isolates}`;
    json.placement.steady[key] ??= placementSim(N, { isolates, maxSubscribers, seed: args.seed + 3, warmS: WARM_S });
    return json.placement.steady[key];
  };
  const placeOf = Object.fromEntries(SIZES.map((N) => [N, steady(N, ASSUMED.isolatesCentral)]));
  const placeRaised = steady(1_000_000, ASSUMED.isolatesCentral, RAISED_MAX);
  say('## Placement: the subscribes that reach the root');
  say();
  say(
    `Steady channel: packed relays, every stream recycled (N / 3600 a second), back ${DESIGN.retryMs / 1000} s later through one of I Worker isolates of its region (assumed ${ISO.join(' / ')}); an isolate that remembers the region's n (${DESIGN.rememberS} s after a 307) tries up to ${DESIGN.guesses} random relays of [0, n) before the root, and one that does not waits for the isolate's request to the root on its way, if any; at most ⌊(MAX_SUBSCRIBERS − RELAY_AFTER) / RELAY_SIZE⌋ relays. ${fmt(600)} s simulated after a ${fmt(WARM_S)} s warm-up.`,
  );
  say();
  say(
    `| subscribers | MAX_SUBSCRIBERS | root requests per stream opened, I = ${ISO.join(' / ')} | relay attaches per stream (refused) | random guesses per stream (found room) | placed in another region | told to come back | root busy placing, I = ${ASSUMED.isolatesCentral}: 1.164 ms / 3.7 ms | relays named |`,
  );
  say('|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const [N, max] of [...SIZES.map((N) => [N, DESIGN.maxSubscribers]), [1_000_000, RAISED_MAX]]) {
    const runs = ISO.map((I) => steady(N, I, max));
    const mid = steady(N, ASSUMED.isolatesCentral, max);
    const perSec = (N / DESIGN.streamMaxS) * mid.rootPerOpen;
    say(
      `| ${fmt(N)} | ${fmt(max)} | ${runs.map((r) => fmt(r.rootPerOpen, 2)).join(' / ')} | ${fmt(mid.relayPerOpen, 2)} (${fmt(mid.refusedPerOpen, 2)}) | ${fmt(mid.guessesPerOpen, 2)} (${fmt(mid.guessSuccess * 100, 0)} %) | ${fmt(mid.crossPerOpen * 100, 2)} % | ${fmt(mid.retriesPerOpen * 100, 2)} % | ${fmt((perSec * MEASURED.tOpen) / 10, 1)} % / ${fmt((perSec * 3.7) / 10, 1)} % (${fmt(perSec, 0)}/s) | ${fmt(mid.relaysNamed)} of ${fmt(mid.maxRelays)} |`,
    );
  }
  say();

  // --- Capacity
  say('## Largest event rate per channel');
  say();
  say(
    `One event per message: 1 / max(root fan-out, relay fan-out). Simulated: Poisson single-event publishes, the root spending t_pub = 3.7 ms per publish, the 10 ms coalescing as src/channel.ts codes it, and the placement and count-report load (the root requests per stream opened above, I = ${ASSUMED.isolatesCentral}, × 1.164 ms); the rate at which the root or a full relay reaches 100 % busy.`,
  );
  say();
  say(
    '| subscribers | c_send | relays | root sends / message | root fan-out ms | relay fan-out ms | root busy with placement | max events/s, one per message | max events/s, simulated | bound by | events per message there |',
  );
  say('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|');
  for (const N of SIZES) {
    const topo = topos[N];
    json.capacity[N] = {};
    for (const c of CS) {
      const bg = background(topo, { cSend: c.cSend, place: placeOf[N] });
      const rootMs = topo.rootSockets * c.cSend;
      const relayMs = topo.R ? (1 + DESIGN.relaySize) * c.cSend : 0;
      const onePerMsg = 1000 / Math.max(rootMs, relayMs);
      const cap = capacity(topo, { cSend: c.cSend, bgUtil: bg.util, seed: args.seed });
      const capFanOnly = capacity(topo, { cSend: c.cSend, bgUtil: 0, tPub: 0, seed: args.seed });
      json.capacity[N][c.name] = { cSend: c.cSend, rootMs, relayMs, onePerMessage: onePerMsg, background: bg, simulated: cap, fanOutOnlySimulated: capFanOnly };
      say(
        `| ${fmt(N)} | ${c.label} | ${topo.R} | ${fmt(topo.rootSockets)} | ${fmt(rootMs, 1)} | ${fmt(relayMs, 1)} | ${fmt(bg.util * 100, 1)} % (${fmt(bg.rootReqPerSec, 0)} root requests/s, ${fmt(bg.countMsgsPerSec, 0)} counts/s) | ${fmt(onePerMsg, 0)} | ${fmt(cap.rate, 0)} | ${cap.bound ?? '—'} | ${fmt((cap.rate || 0) / (cap.broadcastsPerSec || 1), 2)} |`,
      );
    }
  }
  say();
  {
    const topo = topos[1_000_000];
    const bgR = background(topo, { cSend: MEASURED.cSendLow, place: placeRaised });
    const capR = capacity(topo, { cSend: MEASURED.cSendLow, bgUtil: bgR.util, seed: args.seed });
    const bgR16 = background(topo, { cSend: MEASURED.cSendHigh, place: placeRaised });
    const capR16 = capacity(topo, { cSend: MEASURED.cSendHigh, bgUtil: bgR16.util, seed: args.seed });
    json.capacity.raisedMax = { maxSubscribers: RAISED_MAX, low: { background: bgR, simulated: capR }, high: { background: bgR16, simulated: capR16 } };
    const per = (place) => (1e6 / DESIGN.streamMaxS) * place.rootPerOpen;
    say(
      `1,000,000 subscribers with MAX_SUBSCRIBERS ${fmt(RAISED_MAX)}: root busy ${fmt(bgR.util * 100, 1)} %, max ${fmt(capR.rate, 0)} events/s at 7.7 µs, ${fmt(capR16.rate, 0)} at 16.7 µs.`,
    );
    say(
      `Sensitivity: with t_open = 3.7 ms (docs/cost.md's upper bound) instead of 1.164 ms, placement alone keeps the root of 1,000,000 subscribers ${fmt((per(placeOf[1_000_000]) * 3.7) / 10, 0)} % busy (${fmt((per(placeRaised) * 3.7) / 10, 0)} % with MAX_SUBSCRIBERS ${fmt(RAISED_MAX)}).`,
    );
  }
  say();

  // --- Latency
  say("## Delivery latency (publish reaching the root → event handed to the subscriber's edge Worker)");
  say();
  say(`Root in ${ASSUMED.rootRegion}; Poisson publishes; ${fmt(args.samples)} sampled subscribers per row; the client's own last mile is not included.`);
  say();
  say('| subscribers | events/s | c_send | p50 ms | p90 ms | p99 ms | max ms | root busy | relay busy | events per message |');
  say('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  const latencyRuns = [];
  for (const N of SIZES) {
    json.latency[N] = {};
    for (const rate of [1, 10]) {
      json.latency[N][rate] = {};
      for (const c of CS) {
        const bg = background(topos[N], { cSend: c.cSend, place: placeOf[N] });
        const events = rate === 1 ? 300 : 600;
        const r = simulate(topos[N], { rate, events, cSend: c.cSend, samples: args.samples, seed: args.seed + N + rate, bgUtil: bg.util });
        json.latency[N][rate][c.name] = r;
        latencyRuns.push({ N, rate, c, r });
        say(
          `| ${fmt(N)} | ${rate} | ${c.label} | ${fmt(r.latency.p50, 1)} | ${fmt(r.latency.p90, 1)} | ${fmt(r.latency.p99, 1)} | ${fmt(r.latency.max, 1)} | ${fmt(r.rootUtil * 100, 1)} % | ${fmt(r.relayUtil * 100, 1)} % | ${fmt(r.eventsPerBroadcast, 3)} |`,
        );
      }
    }
  }
  say();

  const N1M = 1_000_000;
  const topo1M = topos[N1M];
  const bg1M = background(topo1M, { cSend: MEASURED.cSendLow, place: placeOf[N1M] });
  const base = json.latency[N1M][1].low;
  say('### By region, 1,000,000 subscribers, 1 event/s, c_send 7.7 µs');
  say();
  say('| region | subscribers | relays | one-way from root ms | p50 ms | p99 ms |');
  say('|---|---:|---:|---:|---:|---:|');
  for (const r of REGIONS) {
    const l = base.latency.byRegion[r];
    say(
      `| ${r} | ${fmt(topo1M.relayedBy[r] + topo1M.directBy[r])} | ${topo1M.relaysBy[r]} | ${fmt(oneWay(ASSUMED.rootRegion, r), 1)} | ${fmt(l.p50, 1)} | ${fmt(l.p99, 1)} |`,
    );
  }
  say();

  // variants at 1M, 1 event/s and 10 events/s
  say('### Variants, 1,000,000 subscribers, c_send 7.7 µs');
  say();
  say('| variant | events/s | p50 ms | p99 ms | root busy |');
  say('|---|---:|---:|---:|---:|');
  json.latency.variants = {};
  for (const rate of [1, 10]) {
    const events = rate === 1 ? 300 : 600;
    const variants = [
      ['as coded (root in enam, relays first)', {}],
      ['the order before: relays among the direct subscribers', { order: 'random' }],
      ['root in apac (half the subscribers are there)', { rootRegion: 'apac' }],
      ['root in weur', { rootRegion: 'weur' }],
      ['no output-gate wait (t_commit 0)', { tCommit: 0 }],
    ];
    for (const [name, extra] of variants) {
      const r = simulate(topo1M, { rate, events, cSend: MEASURED.cSendLow, samples: args.samples, seed: args.seed + 7 + rate, bgUtil: bg1M.util, ...extra });
      json.latency.variants[`${name} @${rate}`] = r;
      say(`| ${name} | ${rate} | ${fmt(r.latency.p50, 1)} | ${fmt(r.latency.p99, 1)} | ${fmt(r.rootUtil * 100, 1)} % |`);
    }
  }
  say();

  // --- Cost
  say('## Monthly cost of the channel, 1,000,000 subscribers');
  say();
  for (const rate of [1, 10]) {
    const sim = json.latency[N1M][rate].low;
    const rows = [];
    for (const [label, opts] of [
      ['relays awake (socket), c_edge 8.5 µs', { variant: 'socket', cEdge: MEASURED.cEdgeLow }],
      ['relays awake (socket), c_edge 46 µs', { variant: 'socket', cEdge: MEASURED.cEdgeHigh }],
      ['RPC per broadcast per relay, c_edge 8.5 µs', { variant: 'rpc', cEdge: MEASURED.cEdgeLow }],
    ]) {
      const c = monthlyCost(topo1M, { rate, broadcastsPerSec: rate / sim.eventsPerBroadcast, cSend: MEASURED.cSendLow, place: placeOf[N1M], ...opts });
      const cBilled =
        opts.variant === 'socket'
          ? monthlyCost(topo1M, {
              rate,
              broadcastsPerSec: rate / sim.eventsPerBroadcast,
              cSend: MEASURED.cSendLow,
              place: placeOf[N1M],
              ...opts,
              incomingBilled: true,
            }).total
          : null;
      rows.push({ label, c, cBilled });
    }
    json.cost[rate] = rows.map(({ label, c, cBilled }) => ({ label, ...c, totalIfRelayIncomingBilled: cBilled }));
    say(
      `### ${rate} event${rate === 1 ? '' : 's'}/s (${fmt(rate / sim.eventsPerBroadcast, 2)} messages per socket per second: coalescing joined ${fmt((1 - 1 / sim.eventsPerBroadcast) * 100, 1)} % of the publishes)`,
    );
    say();
    say(`| line | ${rows.map((r) => r.label).join(' | ')} |`);
    say(`|---|${rows.map(() => '---:').join('|')}|`);
    for (let k = 0; k < rows[0].c.lines.length; k++) {
      say(`| ${rows[0].c.lines[k].name} | ${rows.map((r) => money(r.c.lines[k].dollars)).join(' | ')} |`);
    }
    say(`| **total** | ${rows.map((r) => `**${money(r.c.total)}**`).join(' | ')} |`);
    say(`| total if each root→relay message is billed at 20:1 | ${rows.map((r) => (r.cBilled === null ? '—' : money(r.cBilled))).join(' | ')} |`);
    say();
  }

  // all sizes, compact
  say('### All sizes (relays awake; c_edge 8.5 µs / 46 µs)');
  say();
  say('| subscribers | relays | 1 event/s | 10 events/s |');
  say('|---:|---:|---:|---:|');
  json.cost.bySize = {};
  for (const N of SIZES) {
    const cells = [1, 10].map((rate) => {
      const sim = json.latency[N][rate].low;
      const lo = monthlyCost(topos[N], {
        rate,
        broadcastsPerSec: rate / sim.eventsPerBroadcast,
        cSend: MEASURED.cSendLow,
        place: placeOf[N],
        cEdge: MEASURED.cEdgeLow,
      });
      const hi = monthlyCost(topos[N], {
        rate,
        broadcastsPerSec: rate / sim.eventsPerBroadcast,
        cSend: MEASURED.cSendLow,
        place: placeOf[N],
        cEdge: MEASURED.cEdgeHigh,
      });
      json.cost.bySize[`${N}@${rate}`] = { low: lo.total, high: hi.total, relays: lo.relayDollars };
      return `${money(lo.total)} / ${money(hi.total)} (relays ${money(lo.relayDollars)})`;
    });
    say(`| ${fmt(N)} | ${topos[N].R} | ${cells.join(' | ')} |`);
  }
  say();

  // --- Break-even
  say('## RPC per event against an awake relay (one full relay, list prices)');
  say();
  say('| c_send | root→relay messages billed at 20:1? | break-even, messages/s | a relay a month at 1 event/s: socket / RPC | at 10 events/s |');
  say('|---:|---|---:|---:|---:|');
  for (const c of CS) {
    for (const incomingBilled of [false, true]) {
      const cm = countChangeProbability(DESIGN.relaySize) / DESIGN.countEveryS;
      const be = breakEven({ cSend: c.cSend, countMsgsPerSec: cm, incomingBilled });
      json.breakEven[`${c.name}${incomingBilled ? '-billed' : ''}`] = {
        ...be,
        rpcAt: undefined,
        socketAt: undefined,
        at1: [be.socketAt(1), be.rpcAt(1)],
        at10: [be.socketAt(10), be.rpcAt(10)],
      };
      say(
        `| ${c.label} | ${incomingBilled ? 'yes' : 'no'} | ${fmt(be.broadcastsPerSec, 1)} | ${money(be.socketAt(1))} / ${money(be.rpcAt(1))} | ${money(be.socketAt(10))} / ${money(be.rpcAt(10))} |`,
      );
    }
  }
  say();

  // --- Storms
  say('## Re-attach storms');
  say();
  say(
    `A deploy (docs/platform.md): every stream ends at t = 0; the root restarts (it keeps, in storage, how many relays it named; nothing else); the old streams' sockets at the relays close evenly over ${ASSUMED.deployLeaveS} s (assumed) and each relay re-attaches to the root within ${DESIGN.relayReattachMs / 1000} s, saying its count; every client comes back ${DESIGN.retryMs / 1000} s after its stream ended, evenly over ${ASSUMED.deployWindowS} s (assumed), through a fresh Worker isolate of its region. Simulated as in "Placement": the root and each relay take 1.164 ms per request, first in, first out, count messages included; times from t = 0.`,
  );
  say();
  say(
    "| subscribers | variant | isolates per region | root requests (per subscriber) | root's time, 1.164 / 3.7 ms | longest wait at the root | relay attaches refused | told to come back | half back | 99 % back | all back |",
  );
  say('|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  const C = ASSUMED.isolatesCentral;
  const deployRuns = [
    [10_000, C, 'as coded', {}],
    ...ISO.map((I) => [100_000, I, 'as coded', {}]),
    [1_000_000, C, 'as coded', {}],
    [1_000_000, C, `MAX_SUBSCRIBERS ${fmt(RAISED_MAX)}`, { maxSubscribers: RAISED_MAX }],
    [1_000_000, C, 'old sockets close over 30 s', { leaveS: 30 }],
    [1_000_000, C, 'relays restart too (empty)', { relaysRestart: true }],
    [1_000_000, C, 'the code before `asking`: no waiting, each subscribe asks the root until its isolate has n', { previous: true }],
  ];
  const heardLines = [];
  for (const [N, I, name, extra] of deployRuns) {
    const d = placementSim(N, { isolates: I, mode: 'deploy', seed: args.seed + 5, ...extra });
    d.variant = name;
    json.placement.deploy[`${N}/${I}/${name}`] = d;
    const secs = (x) => (x === Infinity ? 'never' : `${fmt(x, x < 100 ? 1 : 0)} s`);
    const all = d.leftOut > 0 ? `never: ${fmt(d.leftOut)} left out (the last in at ${fmt(d.lastAttachS, 0)} s)` : secs(d.lastS);
    heardLines.push(`${fmt(N)}, ${name}, ${fmt(I)} isolates: ${fmt(d.isolatesHeardP50S, 1)} s / ${fmt(d.isolatesHeardP90S, 1)} s`);
    say(
      `| ${fmt(N)} | ${name} | ${fmt(I)} | ${fmt(d.rootRequests)} (${fmt(d.rootRequests / N, 2)}) | ${secs(d.rootBusyS)} / ${secs((d.rootRequests * 3.7) / 1000)} | ${secs(d.rootWaitMaxS)} | ${fmt(d.relayRefused)} | ${fmt(d.channelFull + d.unavailable)} | ${secs(d.p50S)} | ${secs(d.p99S)} | ${all} |`,
    );
  }
  say();
  say(`When an isolate first heard n from the root (median / 90th percentile of the isolates that did): ${heardLines.join('; ')}.`);
  say();
  const R1M = topos[1_000_000].R;
  json.storms = {
    rootAlone: { requests: R1M + DESIGN.relayAfter, rootWorkS: ((R1M + DESIGN.relayAfter) * MEASURED.tOpen) / 1000, windowS: DESIGN.relayReattachMs / 1000 },
    relayAlone: { requests: DESIGN.relaySize, relayWorkS: (DESIGN.relaySize * MEASURED.tOpen) / 1000, windowS: DESIGN.linkReattachMs / 1000, rootRequests: 1 },
  };
  say(
    `The root alone restarts (1,000,000 subscribers): ${fmt(R1M)} relays re-attach within ${DESIGN.relayReattachMs / 1000} s (RELAY_REATTACH_BASE_MS) and ${fmt(DESIGN.relayAfter)} direct subscribers within ${DESIGN.linkReattachMs / 1000} s: ${fmt(json.storms.rootAlone.requests)} requests, ${fmt(json.storms.rootAlone.rootWorkS, 1)} s of the root's time, all back within about ${DESIGN.relayReattachMs / 1000} s. One relay restarts: its ${fmt(DESIGN.relaySize)} subscribers' Workers re-attach to it within ${DESIGN.linkReattachMs / 1000} s (never the root), ${fmt(json.storms.relayAlone.relayWorkS, 1)} s of the relay's time; the root sees 1 request (the relay's own).`,
  );
  say();

  // --- Nchan
  say('## Nchan on one box (docs/benchmarks.md CPU per delivery 6.2–12.7 µs)');
  say();
  const [nMin, nMax] = [Math.min(...MEASURED.nchanCpuUs), Math.max(...MEASURED.nchanCpuUs)];
  const nMid = MEASURED.nchanCpuUs[1];
  say("| subscribers | events/s | cores busy (6.2–12.7 µs) | one event's fan-out on 64 cores, ms | RSS, GB | p50 / p99 ms, box in enam, 64 cores at 10.4 µs |");
  say('|---:|---:|---:|---:|---:|---:|');
  for (const N of SIZES) {
    for (const rate of [1, 10]) {
      const cores = [(N * rate * nMin) / 1e6, (N * rate * nMax) / 1e6];
      const fan = [(N * nMin) / 1000 / 64, (N * nMax) / 1000 / 64];
      const rss = [(N * Math.min(...MEASURED.nchanKBPerSub)) / 1e6, (N * Math.max(...MEASURED.nchanKBPerSub)) / 1e6];
      // one box: every subscriber direct, its per-delivery CPU spread over 64 cores
      const box = { N, direct: N, relayed: 0, directBy: apportion(N, SPREAD), relayedBy: apportion(0, SPREAD), relaysBy: {}, relays: [], R: 0, rootSockets: N };
      const busy = (N * rate * nMid) / 1e6 / 64;
      const sim =
        busy < 1
          ? simulate(box, {
              rate,
              events: rate === 1 ? 200 : 400,
              cSend: nMid / 1000 / 64,
              tPub: 1000 / MEASURED.nchanPubPerSec,
              tCommit: 0,
              coalesceMs: 0,
              samples: Math.min(args.samples, 10_000),
              seed: args.seed + 99 + rate,
            })
          : null;
      json.nchan[`${N}@${rate}`] = { cores, fanOutMsOn64: fan, rssGB: rss, latency: sim?.latency ?? null, busy64: busy };
      say(
        `| ${fmt(N)} | ${rate} | ${fmt(cores[0], 1)}–${fmt(cores[1], 1)} | ${fmt(fan[0], 0)}–${fmt(fan[1], 0)} | ${fmt(rss[0], 1)}–${fmt(rss[1], 1)} | ${sim ? `${fmt(sim.latency.p50, 0)} / ${fmt(sim.latency.p99, 0)}` : `saturated (${fmt(busy * 100, 0)} % of 64 cores)`} |`,
      );
    }
  }
  say();

  // --- Centrifugo
  const cf = CENTRIFUGO;
  const perSec = cf.deliveredPerMin / 60;
  json.centrifugo = {
    ...cf,
    deliveredPerSec: perSec,
    cpuUsPerDelivery: (cf.cpus / perSec) * 1e6,
    marginalCpuUsPerDelivery: ((cf.cpus - cf.idleCpus) / perSec) * 1e6,
    kbPerConnection: (cf.ramGB * 1e6) / cf.connections,
  };
  say('## Centrifugo (published figures)');
  say();
  say(
    `${fmt(cf.connections)} connections on ${cf.pods} pods, ${cf.cpus} CPUs, ${cf.ramGB} GB; ${fmt(perSec, 0)} deliveries/s; p99 ${cf.p99ms} ms → ${fmt(json.centrifugo.cpuUsPerDelivery, 0)} µs CPU per delivery all in, ${fmt(json.centrifugo.marginalCpuUsPerDelivery, 0)} µs above the ${cf.idleCpus} CPUs it needs with few messages; ${fmt(json.centrifugo.kbPerConnection, 0)} KB per connection. Workload: ${cf.workload}.`,
  );
  say();

  const elapsed = (Date.now() - started) / 1000;
  json.elapsedS = elapsed;
  say(`(${fmt(elapsed, 1)} s)`);
  console.log(out.join('\n'));
  if (args.write) {
    writeFileSync(args.out, `${JSON.stringify(json, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v), 1)}\n`);
    console.error(`wrote ${args.out}`);
  }
}

main();
