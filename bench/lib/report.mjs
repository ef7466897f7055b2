// docs/benchmarks.md from the runs: medians per target and workload, side by side, with
// Herald / Nchan ratios and the issue's targets.
const NOTES_MARKER = '\n<!-- Everything below this line is kept when `npm run bench` rewrites this file. -->\n';

const median = (xs) => {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};
const num = (n, d = 1) => (typeof n === 'number' && Number.isFinite(n) ? n.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }) : 'n/a');
const ratio = (a, b) => (typeof a === 'number' && typeof b === 'number' && b > 0 ? a / b : null);
const times = (r) => (r === null ? 'n/a' : `${num(r, r < 10 ? 2 : 1)}×`);
const HERALD = ['herald-dev', 'herald-workerd'];

export function describeWorkload(w) {
  return `S=${w.subscribers.toLocaleString('en-US')} subscribers, M=${w.events.toLocaleString('en-US')} events, ${w.rate ? `${w.rate} events/s` : 'as fast as acknowledgements allow'}`;
}

/** Medians (and loss totals) of one target's runs of one workload. */
function summarize(runs) {
  const ok = runs.filter((r) => r.ok);
  const notes = [...new Set(runs.map((r) => r.fdNote ?? (r.unmeasurable ? r.error : undefined)).filter(Boolean))];
  if (!ok.length) return { runs: 0, failed: runs.filter((r) => !r.unmeasurable).length, unmeasurable: runs.some((r) => r.unmeasurable), notes };
  // Runs whose runtime crashed for lack of descriptors count for loss, not for the medians.
  const crashed = (r) => r.fdNote && /accept\(\)[^/]*Too many open files/.test(r.targetSaid ?? '');
  const measured = ok.some((r) => !crashed(r)) ? ok.filter((r) => !crashed(r)) : ok;
  const m = (k) => median(measured.map((r) => r[k]));
  const s = { runs: ok.length, failed: runs.filter((r) => !r.ok && !r.unmeasurable).length, notes };
  const keys = new Set(ok.flatMap((r) => Object.keys(r).filter((k) => typeof r[k] === 'number')));
  for (const k of keys) s[k] = m(k);
  s.expectedAll = ok.reduce((a, r) => a + (r.expected ?? 0), 0);
  s.deliveredAll = ok.reduce((a, r) => a + (r.delivered ?? 0), 0);
  s.lostAll = ok.reduce((a, r) => a + (r.lost ?? 0), 0);
  // Loss among subscribers that opened, apart from events never sent to subscribers that
  // could not open (refused connections) or events that could not be published.
  s.lostOpenAll = ok.reduce((a, r) => a + (r.connected ?? 0) * (r.published ?? 0) - (r.delivered ?? 0), 0);
  s.unopenedAll = ok.reduce((a, r) => a + (r.subscribers - (r.connected ?? r.subscribers)), 0);
  s.fdLimited = ok.some((r) => r.fdNote);
  // A runtime that crashed on running out of descriptors (accept() failing) loses every stream.
  s.fdCrashes = ok.filter(crashed).length;
  if (s.fdCrashes) s.notes.push(`${ok[0].target}: in ${s.fdCrashes} of ${ok.length} runs accept() itself failed for lack of descriptors, which crashed the runtime, and every stream of that run was lost; the medians come from the other runs`);
  s.connectedMin = Math.min(...ok.map((r) => r.connected ?? Infinity));
  s.duplicatesAll = ok.reduce((a, r) => a + (r.duplicates ?? 0), 0);
  s.droppedAll = ok.reduce((a, r) => a + (r.dropped ?? 0), 0);
  s.replayAllOk = ok.every((r) => r.replayReceived === undefined || r.replayReceived === 1000);
  return s;
}

export function renderReport({ info, results, targets, workloads }) {
  const names = targets.map((t) => t.name);
  const cell = (target, workload) => summarize(results.filter((r) => r.target === target && r.workload === workload));
  const summaries = {};
  for (const w of [...workloads.map((w) => w.name), 'micro', 'heap']) {
    summaries[w] = {};
    for (const t of names) summaries[w][t] = cell(t, w);
  }
  const hasNchan = names.includes('nchan');

  const table = (header, rows) => [`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i ? '---:' : '---')).join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
  const runsNote = (s) => (s.runs === 0 ? '' : s.failed ? ` (${s.runs} of ${s.runs + s.failed} runs)` : '');

  const workloadSection = (w) => {
    const S = summaries[w.name];
    const row = (label, f) => [label, ...names.map((t) => (S[t].runs ? f(S[t], t) : S[t].unmeasurable ? 'not measurable here' : S[t].failed ? 'failed' : '—'))];
    const ratioRow = (label, key) =>
      hasNchan
        ? [[label, ...names.map((t) => (t === 'nchan' ? '1' : S[t].runs && S.nchan.runs ? times(ratio(S[t][key], S.nchan[key])) : 'n/a'))]]
        : [];
    const rows = [
      row('subscribers open (fewest in a run)', (s) => `${s.connectedMin.toLocaleString('en-US')} / ${w.subscribers.toLocaleString('en-US')}`),
      row('time to open them all (ms)', (s) => num(s.connectMs, 0)),
      row('delivered / expected (all runs)', (s) => `${s.deliveredAll.toLocaleString('en-US')} / ${s.expectedAll.toLocaleString('en-US')}${s.lostAll ? ` (**${s.lostAll.toLocaleString('en-US')} lost**${s.unopenedAll ? `: ${s.unopenedAll} subscribers never opened; ${s.lostOpenAll.toLocaleString('en-US')} lost by open ones` : ''})` : ''}`),
      row('latency p50 (ms)', (s) => num(s.p50)),
      row('latency p90 (ms)', (s) => num(s.p90)),
      row('latency p99 (ms)', (s) => num(s.p99)),
      ...ratioRow('  p99 ÷ Nchan', 'p99'),
      row('latency max (ms)', (s) => num(s.max)),
      row('deliveries/s', (s) => num(s.deliveriesPerSec, 0)),
      row('publish acks/s', (s) => num(s.publishAcksPerSec, 0)),
      row('hub CPU µs per delivery', (s) => num(s.cpuUsPerDelivery)),
      ...ratioRow('  CPU ÷ Nchan', 'cpuUsPerDelivery'),
      row('hub CPU busy (cores)', (s) => num(s.hubCores, 2)),
      row('hub RSS KB per subscriber', (s) => num(s.memKBPerSubscriber)),
      ...ratioRow('  memory ÷ Nchan', 'memKBPerSubscriber'),
      row('hub RSS idle (MB)', (s) => num(s.idleRssMB, 0)),
      row('load generator CPU (% of a core)', (s) => num(s.genCores * 100, 0)),
    ];
    const extras = [
      ...names.filter((t) => S[t].runs && (S[t].duplicatesAll || S[t].droppedAll)).map((t) => `${t}: ${S[t].duplicatesAll} duplicate deliveries, ${S[t].droppedAll} streams ended early (all runs).`),
      ...names.flatMap((t) => S[t].notes ?? []).map((n) => `${n[0].toUpperCase()}${n.slice(1)}.`),
    ];
    const bound = names.filter((t) => S[t].runs && S[t].genCores >= 0.9);
    if (bound.length) {
      extras.unshift(
        `The load generator used ${bound.map((t) => `${num(S[t].genCores * 100, 0)} % of a core with ${t}`).join(', ')}: there it is the bottleneck, so those columns' latency and deliveries/s show the generator's limit (the hub could do better); their CPU per delivery and memory per subscriber still hold.`,
      );
    }
    return `### ${describeWorkload(w)}\n\n${table(['median of runs', ...names.map((t) => `${t}${runsNote(summaries[w.name][t])}`)], rows)}\n${extras.length ? `\n${extras.map((e) => `- ${e}`).join('\n')}\n` : ''}`;
  };

  const microSection = () => {
    const S = summaries.micro;
    if (!names.some((t) => S[t].runs || summaries.heap[t].runs)) return '';
    const row = (label, f) => [label, ...names.map((t) => (S[t].runs ? f(S[t], t) : S[t].failed ? 'failed' : '—'))];
    return `### Publishing, replay and the isolate's memory (medians of runs)

${table(['', ...names.map((t) => `${t}${runsNote(S[t])}`)], [
  row('single-event publishes acknowledged per second (one at a time)', (s) => num(s.singleAcksPerSec, 0)),
  row('batches of 100 acknowledged per second', (s) => (s.batchAcksPerSec == null ? 'n/a (no batches)' : num(s.batchAcksPerSec, 1))),
  row('events per second in batches of 100', (s) => (s.batchEventsPerSec == null ? 'n/a (no batches)' : num(s.batchEventsPerSec, 0))),
  row('replay of 1,000 retained events to a resuming subscriber (ms)', (s) => `${num(s.replay1000Ms, 0)}${s.replayAllOk ? '' : ' (**incomplete**)'}`),
  ...(names.some((t) => summaries.heap[t].runs)
    ? [
        ['isolate V8 heap KB per subscriber (2,000 open, after a full GC)', ...names.map((t) => (summaries.heap[t].runs ? num(summaries.heap[t].heapKBPerSubscriber) : 'n/a (not workerd)'))],
        ['the same run: process RSS KB per subscriber', ...names.map((t) => (summaries.heap[t].runs ? num(summaries.heap[t].rssKBPerSubscriberHeapRun) : 'n/a'))],
      ]
    : []),
])}

Isolate heap: the used V8 heap of the Worker's isolate (where the Durable Object lives: what
its 128 MB limit counts) after a full garbage collection, with 2,000 subscribers open and 10
events sent, less the same before, per subscriber; read through workerd's inspector (a heap
snapshot forces the collection) in a separate start of the target, since the inspector
costs CPU. The rest of the process's resident memory per subscriber is workerd's own
per-connection state (HTTP server, socket buffers, stream plumbing), which in production
sits in Cloudflare's runtime and edge rather than in the object's isolate.

Replay: 1,001 events are published, then a subscriber resumes with \`Last-Event-ID\` set to the
first event's id (Herald: \`1\`; Nchan: its \`<time>:<tag>\` message id, which it resumes from
the same way) and must receive the other 1,000; the time runs from sending the request to the
1,000th event. The first event has already left a 1,000-event buffer on both hubs by then.
`;
  };

  // The issue's targets, for both Herald modes.
  const targetRows = [];
  if (names.some((t) => HERALD.includes(t))) {
    const heralds = names.filter((t) => HERALD.includes(t));
    const fanout = workloads.map((w) => w.name);
    const worst = (t, key, filter = () => true) => {
      let best = null;
      for (const w of workloads.filter(filter)) {
        const r = ratio(summaries[w.name][t][key], summaries[w.name].nchan?.[key]);
        if (r !== null && (best === null || r > best.r)) best = { r, w: w.name };
      }
      return best;
    };
    const pass = (ok) => (ok === null ? '' : ok ? ' ✅' : ' ❌');
    const lossCell = (t) => {
      const at = (w) => summaries[w][t];
      const limited = fanout.filter((w) => at(w).fdLimited);
      const unmeasured = fanout.filter((w) => at(w).unmeasurable);
      const held = fanout.filter((w) => !at(w).fdLimited && !at(w).unmeasurable);
      const lost = held.reduce((a, w) => a + (at(w).lostAll ?? 0), 0);
      const failed = held.reduce((a, w) => a + (at(w).failed ?? 0), 0);
      const parts = [lost ? `**${lost.toLocaleString('en-US')} lost** where the machine holds the subscribers` : `0 lost in ${held.length} workloads`];
      for (const w of limited) parts.push(`${w}: ${(at(w).lostAll ?? 0).toLocaleString('en-US')} lost at the open-files limit (see its table)`);
      if (unmeasured.length) parts.push(`${unmeasured.join(', ')} not measurable here (open files)`);
      if (failed) parts.push(`${failed} failed runs`);
      const ok = lost || failed ? false : limited.length || unmeasured.length ? null : true;
      return parts.join('; ') + (ok === null ? ' ⚠️' : pass(ok));
    };
    targetRows.push(['no event lost in any run', ...heralds.map(lossCell)]);
    const w10k = workloads.find((w) => w.subscribers === 10000);
    if (w10k) {
      targetRows.push([
        '10,000 subscribers on one channel, no loss',
        ...heralds.map((t) => {
          const s = summaries[w10k.name][t];
          if (!s.runs) return s.unmeasurable ? 'not measurable on this machine (open files)' : 'failed ❌';
          if (s.fdLimited) return `at the open-files limit: fewest open in a run ${s.connectedMin.toLocaleString('en-US')}, ${s.lostAll.toLocaleString('en-US')} lost over ${s.runs} runs (see the ${w10k.name} table) ⚠️`;
          return `${s.connectedMin.toLocaleString('en-US')} open, ${s.lostAll.toLocaleString('en-US')} lost${pass(s.connectedMin === 10000 && !s.lostAll && !s.failed)}`;
        }),
      ]);
    }
    if (hasNchan) {
      targetRows.push([
        'CPU per delivery ≤ 3× Nchan (worst workload)',
        ...heralds.map((t) => {
          const b = worst(t, 'cpuUsPerDelivery');
          return b ? `${times(b.r)} (${b.w})${pass(b.r <= 3)}` : 'n/a';
        }),
      ]);
      const big = (w) => w.subscribers >= 1000;
      targetRows.push([
        'memory per subscriber ≤ 2× Nchan (worst workload with S ≥ 1,000)',
        ...heralds.map((t) => {
          const b = worst(t, 'memKBPerSubscriber', big);
          return b ? `${times(b.r)} (${b.w})${pass(b.r <= 2)}` : 'n/a';
        }),
      ]);
    }
    if (hasNchan && heralds.some((t) => summaries.heap[t]?.runs)) {
      const big = [...workloads].filter((w) => summaries[w.name].nchan.runs).sort((a, b) => b.subscribers - a.subscribers)[0];
      const nchanKB = big ? summaries[big.name].nchan.memKBPerSubscriber : null;
      targetRows.push([
        `  (for comparison: the Durable Object's isolate heap per subscriber, against Nchan's RSS per subscriber${big ? ` at ${big.name}` : ''})`,
        ...heralds.map((t) => (summaries.heap[t]?.runs ? `${num(summaries.heap[t].heapKBPerSubscriber)} KB = ${times(ratio(summaries.heap[t].heapKBPerSubscriber, nchanKB))} ℹ️` : 'n/a (not measured in this mode)')),
      ]);
    }
    const w1000r = workloads.find((w) => w.subscribers === 1000 && w.rate === 100);
    if (w1000r) {
      targetRows.push([
        'p99 latency at S=1,000 and 100 events/s ≤ 50 ms',
        ...heralds.map((t) => {
          const s = summaries[w1000r.name][t];
          return s.runs ? `${num(s.p99)} ms${pass(s.p99 <= 50)}` : 'n/a';
        }),
      ]);
    }
    targetRows.unshift(['target (issue 4)', ...heralds]);
  }
  const targetsTable = targetRows.length ? table(targetRows[0], targetRows.slice(1)) : '';

  // Herald / Nchan ratios of the medians, every workload at a glance.
  let ratiosTable = '';
  const heraldNames = names.filter((t) => HERALD.includes(t));
  if (hasNchan && heraldNames.length) {
    const short = { 'herald-dev': 'dev', 'herald-workerd': 'workerd' };
    const cols = [];
    for (const [key, label] of [['cpuUsPerDelivery', 'CPU/delivery'], ['memKBPerSubscriber', 'memory/subscriber'], ['p99', 'p99 latency']]) for (const t of heraldNames) cols.push({ key, t, label: `${label} (${short[t]})` });
    ratiosTable = table(
      ['Herald ÷ Nchan', ...cols.map((c) => c.label)],
      workloads.map((w) => [w.name, ...cols.map((c) => (summaries[w.name][c.t].runs && summaries[w.name].nchan.runs ? times(ratio(summaries[w.name][c.t][c.key], summaries[w.name].nchan[c.key])) : summaries[w.name][c.t].unmeasurable ? 'not measurable' : 'n/a'))]),
    );
  }

  // Our Nchan against the issue's reference figures for Nchan on a 2-core machine.
  let nchanCheck = '';
  if (hasNchan) {
    const cpu = workloads.filter((w) => summaries[w.name].nchan.runs).map((w) => `${num(summaries[w.name].nchan.cpuUsPerDelivery)} (${w.name})`);
    const mem = workloads.filter((w) => w.subscribers >= 1000 && summaries[w.name].nchan.runs).map((w) => `${num(summaries[w.name].nchan.memKBPerSubscriber)} (${w.name})`);
    const w5k = workloads.find((w) => w.subscribers === 5000);
    const w100r = workloads.find((w) => w.subscribers === 100 && w.rate === 100);
    nchanCheck = `Our Nchan against the issue's reference figures for Nchan on 2 cores (a check of the setup):

- CPU per delivery: ${cpu.join(', ') || 'n/a'} µs (reference 6–9);
- memory per subscriber: ${mem.join(', ') || 'n/a'} KB (reference about 14);
- ${w5k && summaries[w5k.name].nchan.runs ? `S=5,000: ${summaries[w5k.name].nchan.lostAll} lost (reference: none)` : 'S=5,000 not measured'};
- ${w100r && summaries[w100r.name].nchan.runs ? `p99 at S=100, 100 events/s: ${num(summaries[w100r.name].nchan.p99)} ms (reference 3.5)` : 'S=100 at 100 events/s not measured'}.`;
  }

  const failures = results.filter((r) => !r.ok && !r.unmeasurable);
  const troubled = results.filter((r) => r.ok && r.lost !== undefined && (r.lost || r.connectErrors?.length || r.publishErrors || r.dropped));
  const m = info.machine;
  const markdown = `# Herald benchmarks

Written by \`npm run bench\` (\`bench/run.mjs\`); the numbers are from the run below. Herald
against Nchan and a trivial Node broadcaster, on one machine, over loopback.

- **Run**: ${info.date}, \`${info.command}\`, ${num(info.elapsedMin, 1)} minutes. ${info.runs} run${info.runs === 1 ? '' : 's'} of every workload per target, the target started afresh for each run (targets one after another, never at once); tables show medians of the runs.
- **Machine**: ${m.nproc} cores (\`nproc\`; ${m.model}), ${num(m.memGiB, 1)} GiB memory, ${m.os}, Linux ${m.kernel}. The load generator and the target share the cores.
- **Software**: Node ${info.node} (load generator, Node broadcaster, wrangler), wrangler ${info.versions?.wrangler}, Miniflare ${info.versions?.miniflare}, workerd ${info.versions?.workerd}, ${info.versions?.nchan}. Open-files limit ${info.fdLimit}.
- **Targets**:
${targets.map((t) => `  - \`${t.name}\`: ${t.description}.`).join('\n')}
${info.skipped?.length ? `- **Not run** (the ${info.deadlineMin}-minute bound was reached): ${info.skipped.map((s) => `${s.target} ${s.workload} run ${s.run}`).join(', ')}.\n` : ''}
## Against the issue's targets

${targetsTable}

${ratiosTable ? `Ratios of the medians (workload \`SxM\` or \`SxM@rate\`; under 1× Herald is better):\n\n${ratiosTable}\n` : ''}
${nchanCheck}

## Fan-out workloads

Every workload: S subscribers open on one channel (at most 200 connecting at a time), the
hub's own subscriber count confirms them all, then M events are published, each carrying
its send time; each subscriber records every event's arrival.

${workloads.map(workloadSection).join('\n')}
${microSection()}
${failures.length || troubled.length ? `## Failed runs and runs with losses\n\n${[
    ...failures.map((f) => `- ${f.target} ${f.workload} run ${f.run} failed: ${f.error.split('\n')[0]}`),
    ...troubled.map(
      (r) =>
        `- ${r.target} ${r.workload} run ${r.run}: ${r.connected.toLocaleString('en-US')}/${r.subscribers.toLocaleString('en-US')} subscribers opened${r.connectErrors.length ? ` (${r.connectErrors.join('; ')})` : ''}, ${r.lost.toLocaleString('en-US')} of ${r.expected.toLocaleString('en-US')} deliveries lost${r.publishErrors ? `, ${r.publishErrors} publishes failed` : ''}${r.dropped ? `, ${r.dropped} streams ended early` : ''}${r.targetSaid ? `; the target said: \`${r.targetSaid.replace(/`/g, "'")}\`` : ''}`,
    ),
  ].join('\n')}\n` : ''}
## How it is measured

- **Load generator**: one Node process (\`bench/run.mjs\`), raw HTTP/1.1 subscribers (one
  socket each, no EventSource library), publishes over a keep-alive connection. Every
  timestamp comes from that process's one clock.
- **Latency**: from just before the publish request is written to the moment the chunk
  holding the event is read by the subscriber's socket. It includes the publish request's
  way into the hub; with hundreds or thousands of subscribers it also includes the time the
  load generator takes to read every socket, which the Node broadcaster's column shows.
- **Delivered / expected**: each subscriber must get each event once: S × M; a subscriber
  that failed to open counts its M events as lost. Duplicates are counted apart.
- **Hub CPU µs per delivery**: user + system CPU time (\`/proc/<pid>/stat\`) of the target's
  whole process tree from the first publish until the last delivery, divided by the
  deliveries. Publishing is included: it is part of what a delivery costs.
- **Hub RSS KB per subscriber**: (resident memory of the tree with S subscribers open −
  the same before they opened) ÷ S. Noisy at S=100; read the S ≥ 1,000 rows.
- **Load generator CPU**: the generator's own CPU over the same window, in % of one core;
  near 100 % means the generator, not the hub, sets the pace.

## What the numbers mean

- **Which Herald is closer to production.** \`herald-workerd\` is: in production a request
  reaches the Worker and its Durable Object in workerd, with no wrangler and no local proxy.
  \`herald-dev\` adds wrangler's Node process and a second workerd running wrangler's proxy
  worker, which every subscriber stream and publish passes through: about double the sockets
  and copies, and that process's memory per connection.
- **What still differs from production**: real networks (TLS, round trips of tens of ms,
  slow and lossy clients) instead of loopback; Cloudflare's edge in front of the Worker
  (its CPU is not billed to you and not measured here); the Worker and the channel's Durable
  Object may run in different places, adding a hop between them, while here they share a
  process; Durable Object storage is replicated before a write is acknowledged, while here
  SQLite writes to a local disk; the limits of a real Durable Object (one thread, 128 MB,
  about 1,000 requests/s) are not enforced by workerd here.
- **\`workerd-floor\`** is not Herald: a minimal Durable Object broadcaster in the same
  single workerd (no storage, auth, validation, heartbeats or backpressure) that writes
  every event to every stream as a chunk of its own: the runtime's cost of an HTTP response
  and a ReadableStream per subscriber and of one chunk per delivery. Herald hands a reader
  that is still busy everything it missed as one chunk, so under load it pumps fewer chunks
  than deliveries and can cost less than this floor.
- **Nchan** runs as a stock nginx would: a worker per core, its channel in shared memory.
  Herald's channel is one Durable Object, so one thread, however many cores the machine has.
- **The Node broadcaster** does nothing but write each event to each socket. If its latency
  or deliveries/s are no better than a hub's, the load generator is the limit for that
  workload, not the hub.
`;

  const summary = workloads
    .map((w) => {
      const S = summaries[w.name];
      return `${w.name}: ${names
        .map((t) => (S[t].runs ? `${t} lost ${S[t].lostAll} p99 ${num(S[t].p99)} ms cpu ${num(S[t].cpuUsPerDelivery)} µs mem ${num(S[t].memKBPerSubscriber)} KB` : `${t} ${S[t].failed ? 'failed' : '-'}`))
        .join(' | ')}`;
    })
    .join('\n');
  return { markdown, summary, notesMarker: NOTES_MARKER };
}
