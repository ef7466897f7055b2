// The measurements, shared by every target: a fan-out workload (S subscribers, M events)
// and the publish/replay micro-benchmarks. A target instance (the interface is in
// bench/README.md) supplies port, publish, subscribeRequest, subscriberCount and measuredPids.
import { now, pool, sleep, subscribe } from './http.mjs';
import { preciseCpu, threadCpu, threadDelta, treeUsage } from './proc.mjs';

const CONNECT_CONCURRENCY = 200;
const CONNECT_TIMEOUT_MS = 20_000;
const CONNECT_GIVE_UP = 400;
const PUBLISH_GIVE_UP = 3;
const CONNECT_PHASE_MS = 180_000;
const PUBLISH_PHASE_MS = 180_000;
const DELIVERY_STALL_MS = 10_000;
const DELIVERY_WAIT_MS = 120_000;
const RATE_IN_FLIGHT = 64;
/** A refused subscriber comes back after the wait the refusal asks for (as EventSource does), this many times at most. */
const REFUSED_RETRIES = 5;
const REFUSED_WAIT_MAX_MS = 15_000;

const randomChannel = (prefix) => `${prefix}-${crypto.randomUUID().slice(0, 8)}`;

function percentiles(values, n) {
  const sorted = Float64Array.from(values.subarray(0, n)).sort();
  const at = (p) => (n ? sorted[Math.min(n - 1, Math.floor((p / 100) * n))] : NaN);
  return { p50: at(50), p90: at(90), p99: at(99), max: n ? sorted[n - 1] : NaN };
}

/**
 * One run of one workload on a freshly started instance: opens S live subscribers, waits
 * until the hub counts them all, publishes M events (sequentially, each after the last
 * was acknowledged, or at `rate` per second), waits for the deliveries and measures.
 * Options for issue 9's relays suite: `infoAfterMs`, read the hub's channel info
 * (instance.channelInfo) that long after the last delivery, subscribers still open
 * (relays report their counts to the root at most every 2 s); `threads`, CPU of each
 * thread of the measured processes over the publish window.
 */
export async function runWorkload(instance, { subscribers: S, events: M, rate }, { log = () => {}, hooks = {}, infoAfterMs, threads = false } = {}) {
  const channel = randomChannel('bench');
  await instance.publish(channel, ['warm-up']); // the channel exists (Herald: its object is up)
  await sleep(500);
  const pids = await instance.measuredPids();
  // hooks (bench/lib/inspect.mjs): idle() with the channel up and no subscriber, held() just
  // before the first publish, done() once the deliveries are in, subscribers still open.
  await hooks.idle?.();
  const idle = await treeUsage(pids);

  // Every delivery: seen[sub * M + i] flags (duplicates), and its latency.
  const seen = new Uint8Array(S * M);
  const latencies = new Float64Array(S * M);
  let delivered = 0;
  let duplicates = 0;
  let dropped = 0;
  let lastArrival = 0;
  const onData = (sub) => (data, at) => {
    if (data.charCodeAt(0) !== 123) return; // not one of ours ({"t":…,"i":…})
    const { t, i } = JSON.parse(data);
    const k = sub * M + i;
    if (seen[k]) {
      duplicates++;
      return;
    }
    seen[k] = 1;
    latencies[delivered++] = at - t;
    lastArrival = at;
  };

  const c0 = now();
  const connectDeadline = c0 + CONNECT_PHASE_MS;
  const request = instance.subscribeRequest(channel);
  // Give up on a hub that stopped accepting: CONNECT_GIVE_UP failures in a row.
  let failedInARow = 0;
  // Refusals (a full or unavailable channel: a stream with only `retry`), by reason; each
  // refused subscriber comes back after the wait asked for, as EventSource would.
  const refused = {};
  let refusedSubscribers = 0;
  const opened = await pool(S, Math.min(CONNECT_CONCURRENCY, S), async (sub) => {
    for (let attempt = 0; ; attempt++) {
      if (now() > connectDeadline) throw new Error('connect phase over its time bound');
      if (failedInARow >= CONNECT_GIVE_UP) throw new Error(`gave up after ${CONNECT_GIVE_UP} failed subscribes in a row`);
      try {
        const s = await subscribe(instance.port, request, { onData: onData(sub), onEnd: () => dropped++, timeoutMs: CONNECT_TIMEOUT_MS });
        failedInARow = 0;
        return s;
      } catch (error) {
        if (error.refused && attempt < REFUSED_RETRIES) {
          refused[error.refused] = (refused[error.refused] ?? 0) + 1;
          if (attempt === 0) refusedSubscribers++;
          await sleep(Math.min(error.retryMs, REFUSED_WAIT_MAX_MS));
          continue;
        }
        failedInARow++;
        throw error;
      }
    }
  });
  const connectMs = now() - c0;
  const subs = opened.filter((r) => r.ok).map((r) => r.value);
  const failures = opened.filter((r) => !r.ok).map((r) => r.error.message);
  const connectErrors = [...new Set(failures)].slice(0, 3);
  if (failures.length) log(`  ${failures.length} of ${S} subscribers failed to open: ${connectErrors.join('; ')}`);
  if (refusedSubscribers)
    log(
      `  ${refusedSubscribers} subscribers were refused at first (${Object.entries(refused)
        .map(([k, n]) => `${n} × ${k}`)
        .join(', ')}) and came back after the wait asked for`,
    );

  try {
    // The hub's own count, so that no subscriber is still being registered when we publish.
    // (A target without a reliable count has none: its opening bytes are sent once the
    // subscriber is registered, which `subscribe` already waited for.)
    const k0 = now();
    if (instance.subscriberCount) {
      let counted = 0;
      for (const until = k0 + 30_000; now() < until && subs.length; await sleep(100)) {
        try {
          counted = await instance.subscriberCount(channel);
        } catch {
          break; // the hub does not answer: publishing will show it
        }
        if (counted >= subs.length) break;
      }
      if (counted < subs.length) log(`  the hub counts ${counted} subscribers of ${subs.length} open after 30 s; publishing anyway`);
    }
    const countMs = now() - k0;
    await sleep(1000);
    const held = await treeUsage(pids);

    await hooks.held?.();
    const threads0 = threads ? await threadCpu(pids) : null;
    const cpu0 = await treeUsage(pids);
    const gen0 = process.cpuUsage();
    const p0 = now();
    let published = 0;
    let publishErrors = 0;
    let publishFailedInARow = 0;
    const publishOne = async (i) => {
      try {
        await instance.publish(channel, [JSON.stringify({ t: now(), i })]);
        published++;
        publishFailedInARow = 0;
      } catch (error) {
        publishFailedInARow++;
        if (publishErrors++ === 0) log(`  publish failed: ${error.message}`);
      }
    };
    const publishDeadline = p0 + PUBLISH_PHASE_MS;
    const publishing = () => now() < publishDeadline && publishFailedInARow < PUBLISH_GIVE_UP;
    let attempted = 0;
    if (!rate) {
      for (; attempted < M && publishing(); attempted++) await publishOne(attempted);
    } else {
      // Open loop: event i leaves at p0 + i / rate, whatever the acknowledgements do
      // (at most RATE_IN_FLIGHT unacknowledged).
      const inFlight = new Set();
      for (; attempted < M && publishing(); attempted++) {
        const due = p0 + (attempted * 1000) / rate;
        const wait = due - now();
        if (wait > 1) await sleep(wait);
        while (inFlight.size >= RATE_IN_FLIGHT) await Promise.race(inFlight);
        const p = publishOne(attempted).finally(() => inFlight.delete(p));
        inFlight.add(p);
      }
      await Promise.all(inFlight);
    }
    const publishMs = now() - p0;
    if (attempted < M)
      log(
        `  publishing stopped after ${attempted} of ${M} events (${publishFailedInARow >= PUBLISH_GIVE_UP ? `${PUBLISH_GIVE_UP} failures in a row` : 'time bound'})`,
      );

    // Wait for every delivery, bounded: give up after a stall or the overall bound.
    const target = subs.length * published;
    let last = delivered;
    let lastProgress = now();
    for (const until = now() + DELIVERY_WAIT_MS; delivered < target && now() < until; await sleep(20)) {
      if (delivered !== last) {
        last = delivered;
        lastProgress = now();
      } else if (now() - lastProgress > DELIVERY_STALL_MS) break;
    }
    const windowMs = now() - p0;
    const gen1 = process.cpuUsage(gen0);
    const cpu1 = await treeUsage(pids);
    const threads1 = threads ? await threadCpu(pids) : null;
    const deliverMs = (lastArrival || now()) - p0;
    const extra = (await hooks.done?.({ delivered, published, processCpuUs: (cpu1.cpu - cpu0.cpu) * 1e6 })) ?? {};
    let channelInfo;
    if (infoAfterMs !== undefined && instance.channelInfo) {
      await sleep(infoAfterMs);
      try {
        channelInfo = await instance.channelInfo(channel);
      } catch (error) {
        channelInfo = { error: error.message };
      }
    }

    return {
      ...extra,
      ...(channelInfo ? { channelInfo } : {}),
      ...(threads ? { threads: threadDelta(threads0, threads1).slice(0, 8), threadCount: threads1.size } : {}),
      subscribers: S,
      events: M,
      rate: rate ?? null,
      connected: subs.length,
      connectMs,
      connectsPerSec: subs.length / (connectMs / 1000),
      connectErrors,
      refused,
      refusedSubscribers,
      countMs,
      published,
      publishErrors,
      expected: S * M,
      delivered,
      lost: S * M - delivered,
      duplicates,
      dropped,
      ...percentiles(latencies, delivered),
      deliveriesPerSec: delivered ? delivered / (deliverMs / 1000) : null,
      publishAcksPerSec: published / (publishMs / 1000),
      cpuUsPerDelivery: delivered ? ((cpu1.cpu - cpu0.cpu) * 1e6) / delivered : null,
      hubCores: (cpu1.cpu - cpu0.cpu) / (windowMs / 1000),
      memKBPerSubscriber: (held.rss - idle.rss) / Math.max(subs.length, 1) / 1024,
      idleRssMB: idle.rss / 2 ** 20,
      heldRssMB: held.rss / 2 ** 20,
      processes: held.processes,
      genCpuUsPerDelivery: delivered ? (gen1.user + gen1.system) / delivered : null,
      genCores: (gen1.user + gen1.system) / 1000 / windowMs,
    };
  } finally {
    for (const s of subs) s.close();
  }
}

/**
 * Publish acknowledgements per second (single events, then batches of 100 where the
 * target has batches) with no subscriber, and the time for a resuming subscriber to
 * receive 1,000 retained events.
 */
export async function runMicro(instance, { batch, budgetMs = 3000 }) {
  const out = {};

  // Single events, one at a time, each after the previous acknowledgement.
  const single = randomChannel('bench-single');
  await instance.publish(single, ['warm-up']);
  let n = 0;
  const s0 = now();
  while (n < 2000 && now() - s0 < budgetMs) await instance.publish(single, [`{"n":${n++}}`]);
  out.singleAcksPerSec = n / ((now() - s0) / 1000);

  // Batches of 100.
  if (batch) {
    const batched = randomChannel('bench-batch');
    await instance.publish(batched, ['warm-up']);
    let b = 0;
    const b0 = now();
    while (b < 100 && now() - b0 < budgetMs) {
      await instance.publish(
        batched,
        Array.from({ length: 100 }, (_, j) => `{"b":${b},"j":${j}}`),
      );
      b++;
    }
    const secs = (now() - b0) / 1000;
    out.batchAcksPerSec = b / secs;
    out.batchEventsPerSec = (b * 100) / secs;
  } else {
    out.batchAcksPerSec = null;
    out.batchEventsPerSec = null;
  }

  // Replay: 1,001 events, then a subscriber that has the first resumes (Last-Event-ID =
  // the first event's id) and must receive the other 1,000, all still retained.
  const replay = randomChannel('bench-replay');
  let firstId;
  for (let i = 0; i < 1001; ) {
    const size = batch && i > 0 ? Math.min(100, 1001 - i) : 1;
    const { lastId } = await instance.publish(
      replay,
      Array.from({ length: size }, (_, j) => `{"r":${i + j}}`),
    );
    if (i === 0) firstId = lastId;
    i += size;
  }
  let received = 0;
  let done;
  const all = new Promise((r) => (done = r));
  const r0 = now();
  const sub = await subscribe(instance.port, instance.subscribeRequest(replay, firstId), {
    onData: (data) => {
      if (data.startsWith('{"r":') && ++received === 1000) done(now());
    },
    timeoutMs: 30_000,
  });
  const end = await Promise.race([all, sleep(30_000).then(() => null)]);
  sub.close();
  out.replayReceived = received;
  out.replay1000Ms = end === null ? null : end - r0;
  return out;
}

/**
 * Memory of the Worker's isolate per subscriber (targets running in workerd with the
 * inspector on): the V8 heap's used bytes after a full collection with `subscribers` open
 * and 10 events sent, less the same before, per subscriber. This is what counts against a
 * Durable Object's 128 MB; the rest of the process's RSS is the runtime's own (connections,
 * buffers), which production spends outside the isolate.
 */
export async function runHeap(instance, { subscribers = 2000 } = {}) {
  const channel = randomChannel('bench-heap');
  await instance.publish(channel, ['warm-up']);
  await sleep(500);
  const pids = await instance.measuredPids();
  const before = await instance.heapUsed();
  const rss0 = (await treeUsage(pids)).rss;
  const opened = await pool(subscribers, 200, () =>
    subscribe(instance.port, instance.subscribeRequest(channel), { onData() {}, timeoutMs: CONNECT_TIMEOUT_MS }),
  );
  const subs = opened.filter((r) => r.ok).map((r) => r.value);
  try {
    for (let i = 0; i < 10; i++) await instance.publish(channel, [`{"t":0,"i":${i}}`]);
    await sleep(1000);
    const rss1 = (await treeUsage(pids)).rss;
    const after = await instance.heapUsed();
    return {
      heapSubscribers: subs.length,
      heapKBPerSubscriber: (after - before) / Math.max(subs.length, 1) / 1024,
      heapMBIdle: before / 2 ** 20,
      heapMBWithSubscribers: after / 2 ** 20,
      rssKBPerSubscriberHeapRun: (rss1 - rss0) / Math.max(subs.length, 1) / 1024,
    };
  } finally {
    for (const s of subs) s.close();
  }
}

/**
 * The wake-up (issue 8): S live subscribers on one channel, one event to settle them, then
 * `quietS` seconds with nothing published (long enough for workerd to hibernate an object
 * whose only clients are hibernatable WebSockets, about 10 s; short of the 15 s after which
 * streams get a heartbeat), then two publishes one after the other. For each: the publish's
 * acknowledgement time, the time until every subscriber had it (and the median), and the
 * workerd process's CPU from just before the publish until the last subscriber had it.
 * Whether the object had hibernated is read from the target: `constructions()` counts the
 * channel object's constructor runs, so a first publish that built a new instance proves the
 * old one was gone. With `retryQuietS`, an attempt that found the object still in memory is
 * repeated once after that longer quiet.
 */
export async function runWakeup(instance, { subscribers: S, quietS = 12, retryQuietS }, { log = () => {} } = {}) {
  const channel = randomChannel('bench-wake');
  await instance.publish(channel, ['warm-up']);
  const pids = await instance.measuredPids();
  const arrivals = []; // per publish: Float64Array of arrival times, NaN until arrived
  let counting = -1;
  let got = 0;
  let duplicates = 0;
  const onData = (sub) => (data, at) => {
    if (data.charCodeAt(0) !== 123) return;
    const { i } = JSON.parse(data);
    const a = arrivals[i];
    if (!a) return;
    if (!Number.isNaN(a[sub])) {
      duplicates++;
      return;
    }
    a[sub] = at;
    if (i === counting) got++;
  };
  let dropped = 0;
  const c0 = now();
  const opened = await pool(S, Math.min(CONNECT_CONCURRENCY, S), (sub) =>
    subscribe(instance.port, instance.subscribeRequest(channel), { onData: onData(sub), onEnd: () => dropped++, timeoutMs: CONNECT_TIMEOUT_MS }),
  );
  const connectMs = now() - c0;
  const subs = opened.filter((r) => r.ok).map((r) => r.value);
  const failures = opened.filter((r) => !r.ok).map((r) => r.error.message);
  if (failures.length) log(`  ${failures.length} of ${S} subscribers failed to open: ${[...new Set(failures)].slice(0, 3).join('; ')}`);
  try {
    let countedBefore = 0;
    for (const until = now() + 30_000; now() < until; await sleep(100)) {
      countedBefore = await instance.subscriberCount(channel);
      if (countedBefore >= subs.length) break;
    }
    let next = 0;
    /** Publishes one event and measures it until every open subscriber has it (bounded). */
    const one = async () => {
      const i = next++;
      arrivals[i] = new Float64Array(S).fill(NaN);
      counting = i;
      got = 0;
      const cpu0 = await preciseCpu(pids);
      const t = now();
      await instance.publish(channel, [JSON.stringify({ t, i })]);
      const ackMs = now() - t;
      for (const until = now() + 60_000; got < subs.length && now() < until; ) await sleep(2);
      const cpu1 = await preciseCpu(pids);
      const lat = Array.from(arrivals[i])
        .filter((x) => !Number.isNaN(x))
        .map((x) => x - t)
        .sort((a, b) => a - b);
      return {
        ackMs,
        received: lat.length,
        p50Ms: lat.length ? lat[lat.length >> 1] : null,
        allMs: lat.length ? lat[lat.length - 1] : null,
        cpuMs: (cpu1 - cpu0) * 1000,
      };
    };
    const settle = await one();
    const attempts = [];
    for (const q of [quietS, ...(retryQuietS ? [retryQuietS] : [])]) {
      await sleep(q * 1000);
      const before = instance.constructions?.();
      const first = await one();
      await sleep(1000); // the constructor's console line travels through Miniflare's stdout
      const after = instance.constructions?.();
      const second = await one();
      // null: the target cannot tell (not Herald under Miniflare).
      const hibernated = after === undefined ? null : after > before;
      attempts.push({ quietS: q, hibernated, constructionsBefore: before, constructionsAfter: after, first, second });
      if (hibernated !== false) break;
      log(`  the object was still in memory after ${q} s quiet`);
    }
    const countedAfter = await instance.subscriberCount(channel);
    const last = attempts.at(-1);
    return {
      subscribers: S,
      connected: subs.length,
      connectMs,
      countedBefore,
      countedAfter,
      settle,
      attempts,
      ...last,
      duplicates,
      dropped,
      expectedDeliveries: subs.length * next,
      deliveries: arrivals.reduce((a, arr) => a + Array.from(arr).filter((x) => !Number.isNaN(x)).length, 0),
    };
  } finally {
    for (const s of subs) s.close();
  }
}
