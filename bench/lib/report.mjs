// docs/benchmarks.md from the runs: medians per target and workload, side by side, with
// Herald / Nchan ratios and the issue's targets.
const NOTES_MARKER = '\n<!-- Everything below this line is kept when `npm run bench` rewrites this file. -->\n';

export const median = (xs) => {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};
export const num = (n, d = 1) =>
  typeof n === 'number' && Number.isFinite(n) ? n.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }) : 'n/a';
const ratio = (a, b) => (typeof a === 'number' && typeof b === 'number' && b > 0 ? a / b : null);
const times = (r) => (r === null ? 'n/a' : `${num(r, r < 10 ? 2 : 1)}×`);
const HERALD = ['herald-dev', 'herald-workerd', 'herald-old', 'herald-shared'];
const SHORT = { 'herald-dev': 'dev', 'herald-workerd': 'workerd', 'herald-old': 'old', 'herald-shared': 'shared' };

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
  if (s.fdCrashes)
    s.notes.push(
      `${ok[0].target}: in ${s.fdCrashes} of ${ok.length} runs accept() itself failed for lack of descriptors, which crashed the runtime, and every stream of that run was lost; the medians come from the other runs`,
    );
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

  const table = (header, rows) =>
    [`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i ? '---:' : '---')).join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
  const runsNote = (s) => (s.runs === 0 ? '' : s.failed ? ` (${s.runs} of ${s.runs + s.failed} runs)` : '');

  const workloadSection = (w) => {
    const S = summaries[w.name];
    const row = (label, f) => [label, ...names.map((t) => (S[t].runs ? f(S[t], t) : S[t].unmeasurable ? 'not measurable here' : S[t].failed ? 'failed' : '—'))];
    const ratioRow = (label, key) =>
      hasNchan ? [[label, ...names.map((t) => (t === 'nchan' ? '1' : S[t].runs && S.nchan.runs ? times(ratio(S[t][key], S.nchan[key])) : 'n/a'))]] : [];
    const rows = [
      row('subscribers open (fewest in a run)', (s) => `${s.connectedMin.toLocaleString('en-US')} / ${w.subscribers.toLocaleString('en-US')}`),
      row('time to open them all (ms)', (s) => num(s.connectMs, 0)),
      row(
        'delivered / expected (all runs)',
        (s) =>
          `${s.deliveredAll.toLocaleString('en-US')} / ${s.expectedAll.toLocaleString('en-US')}${s.lostAll ? ` (**${s.lostAll.toLocaleString('en-US')} lost**${s.unopenedAll ? `: ${s.unopenedAll} subscribers never opened; ${s.lostOpenAll.toLocaleString('en-US')} lost by open ones` : ''})` : ''}`,
      ),
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
      ...names
        .filter((t) => S[t].runs && (S[t].duplicatesAll || S[t].droppedAll))
        .map((t) => `${t}: ${S[t].duplicatesAll} duplicate deliveries, ${S[t].droppedAll} streams ended early (all runs).`),
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

${table(
  ['', ...names.map((t) => `${t}${runsNote(S[t])}`)],
  [
    row('single-event publishes acknowledged per second (one at a time)', (s) => num(s.singleAcksPerSec, 0)),
    row('batches of 100 acknowledged per second', (s) => (s.batchAcksPerSec == null ? 'n/a (no batches)' : num(s.batchAcksPerSec, 1))),
    row('events per second in batches of 100', (s) => (s.batchEventsPerSec == null ? 'n/a (no batches)' : num(s.batchEventsPerSec, 0))),
    row('replay of 1,000 retained events to a resuming subscriber (ms)', (s) => `${num(s.replay1000Ms, 0)}${s.replayAllOk ? '' : ' (**incomplete**)'}`),
    ...(names.some((t) => summaries.heap[t].runs)
      ? [
          [
            'isolate V8 heap KB per subscriber (2,000 open, after a full GC)',
            ...names.map((t) => (summaries.heap[t].runs ? num(summaries.heap[t].heapKBPerSubscriber) : 'n/a (not workerd)')),
          ],
          [
            'the same run: process RSS KB per subscriber',
            ...names.map((t) => (summaries.heap[t].runs ? num(summaries.heap[t].rssKBPerSubscriberHeapRun) : 'n/a')),
          ],
        ]
      : []),
  ],
)}

${
  names.some((t) => summaries.heap[t].runs)
    ? `Isolate heap: the used V8 heap of the Worker's isolate (where the Durable Object lives: what
its 128 MB limit counts) after a full garbage collection, with 2,000 subscribers open and 10
events sent, less the same before, per subscriber; read through workerd's inspector (a heap
snapshot forces the collection) in a separate start of the target, since the inspector
costs CPU. The rest of the process's resident memory per subscriber is workerd's own
per-connection state (HTTP server, socket buffers, stream plumbing), which in production
sits in Cloudflare's runtime and edge rather than in the object's isolate.

`
    : ''
}Replay: 1,001 events are published, then a subscriber resumes with \`Last-Event-ID\` set to the
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
          if (s.fdLimited)
            return `at the open-files limit: fewest open in a run ${s.connectedMin.toLocaleString('en-US')}, ${s.lostAll.toLocaleString('en-US')} lost over ${s.runs} runs (see the ${w10k.name} table) ⚠️`;
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
        ...heralds.map((t) =>
          summaries.heap[t]?.runs
            ? `${num(summaries.heap[t].heapKBPerSubscriber)} KB = ${times(ratio(summaries.heap[t].heapKBPerSubscriber, nchanKB))} ℹ️`
            : 'n/a (not measured in this mode)',
        ),
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
    const short = SHORT;
    const cols = [];
    for (const [key, label] of [
      ['cpuUsPerDelivery', 'CPU/delivery'],
      ['memKBPerSubscriber', 'memory/subscriber'],
      ['p99', 'p99 latency'],
    ])
      for (const t of heraldNames) cols.push({ key, t, label: `${label} (${short[t]})` });
    ratiosTable = table(
      ['Herald ÷ Nchan', ...cols.map((c) => c.label)],
      workloads.map((w) => [
        w.name,
        ...cols.map((c) =>
          summaries[w.name][c.t].runs && summaries[w.name].nchan.runs
            ? times(ratio(summaries[w.name][c.t][c.key], summaries[w.name].nchan[c.key]))
            : summaries[w.name][c.t].unmeasurable
              ? 'not measurable'
              : 'n/a',
        ),
      ]),
    );
  }

  // Our Nchan against the issue's reference figures for Nchan on a 2-core machine.
  let nchanCheck = '';
  if (hasNchan) {
    const cpu = workloads.filter((w) => summaries[w.name].nchan.runs).map((w) => `${num(summaries[w.name].nchan.cpuUsPerDelivery)} (${w.name})`);
    const mem = workloads
      .filter((w) => w.subscribers >= 1000 && summaries[w.name].nchan.runs)
      .map((w) => `${num(summaries[w.name].nchan.memKBPerSubscriber)} (${w.name})`);
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
against Nchan, on one machine, over loopback: the current design (issue 8, hibernating
channels) and the one before it, side by side.

- **Run**: ${info.date}, \`${info.command}\`, ${num(info.elapsedMin, 1)} minutes. ${info.runs} run${info.runs === 1 ? '' : 's'} of every workload per target, the target started afresh for each run (targets one after another, never at once); tables show medians of the runs.
- **Machine**: ${m.nproc} cores (\`nproc\`; ${m.model}), ${num(m.memGiB, 1)} GiB memory, ${m.os}, Linux ${m.kernel}. The load generator and the target share the cores.
${info.source ? `- **Herald measured** (\`herald-workerd\`): the working tree at commit ${info.source.head}${info.source.changed.length ? `, with uncommitted changes to ${info.source.changed.join(', ')}` : ''}.\n` : ''}- **Software**: Node ${info.node} (load generator, Node broadcaster, wrangler), wrangler ${info.versions?.wrangler}, Miniflare ${info.versions?.miniflare}, workerd ${info.versions?.workerd}, ${info.versions?.nchan}. Open-files limit ${info.fdLimit}.
- **Targets**:
${targets.map((t) => `  - \`${t.name}\`: ${t.description}.`).join('\n')}
${info.skipped?.length ? `- **Not run** (the ${info.deadlineMin}-minute bound was reached): ${info.skipped.map((s) => `${s.target} ${s.workload} run ${s.run}`).join(', ')}.\n` : ''}
${issue8Section({ info, results, names, workloads, summaries, table })}
## Against issue 4's targets

${targetsTable}

${ratiosTable ? `Ratios of the medians (workload \`SxM\` or \`SxM@rate\`; under 1× Herald is better):\n\n${ratiosTable}\n` : ''}
${nchanCheck}

## Fan-out workloads

Every workload: S subscribers open on one channel (at most 200 connecting at a time), the
hub's own subscriber count confirms them all, then M events are published, each carrying
its send time; each subscriber records every event's arrival.

${workloads.map(workloadSection).join('\n')}
${microSection()}
${
  failures.length || troubled.length
    ? `## Failed runs and runs with losses\n\n${[
        ...failures.map((f) => `- ${f.target} ${f.workload} run ${f.run} failed: ${f.error.split('\n')[0]}`),
        ...troubled.map(
          (r) =>
            `- ${r.target} ${r.workload} run ${r.run}: ${r.connected.toLocaleString('en-US')}/${r.subscribers.toLocaleString('en-US')} subscribers opened${r.connectErrors.length ? ` (${r.connectErrors.join('; ')})` : ''}, ${r.lost.toLocaleString('en-US')} of ${r.expected.toLocaleString('en-US')} deliveries lost${r.publishErrors ? `, ${r.publishErrors} publishes failed` : ''}${r.dropped ? `, ${r.dropped} streams ended early` : ''}${r.targetSaid ? `; the target said: \`${r.targetSaid.replace(/`/g, "'")}\`` : ''}`,
        ),
      ].join('\n')}\n`
    : ''
}
## How it is measured

- **Load generator**: one Node process (\`bench/run.mjs\`), raw HTTP/1.1 subscribers (one
  socket each, no EventSource library), publishes over a keep-alive connection. Every
  timestamp comes from that process's one clock.
- **Latency**: from just before the publish request is written to the moment the chunk
  holding the event is read by the subscriber's socket. It includes the publish request's
  way into the hub; with hundreds or thousands of subscribers it also includes the time the
  load generator takes to read every socket (the Node broadcaster's column shows how much,
  when it runs).
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

${meaning(names)}`;

  const summary = workloads
    .map((w) => {
      const S = summaries[w.name];
      return `${w.name}: ${names
        .map((t) =>
          S[t].runs
            ? `${t} lost ${S[t].lostAll} p99 ${num(S[t].p99)} ms cpu ${num(S[t].cpuUsPerDelivery)} µs mem ${num(S[t].memKBPerSubscriber)} KB`
            : `${t} ${S[t].failed ? 'failed' : '-'}`,
        )
        .join(' | ')}`;
    })
    .join('\n');
  return { markdown, summary, notesMarker: NOTES_MARKER };
}

/** The first successful run's value (runs are few; with several, the median of what `f` gives). */
function pick(results, f) {
  const v = results
    .filter((r) => r.ok)
    .map(f)
    .filter((x) => typeof x === 'number' && Number.isFinite(x));
  return median(v);
}

/**
 * Issue 8: the design before it (herald-old) and the current one (herald-workerd) at 100,
 * 1,000 and 9,000 subscribers: the process's CPU per delivery, the channel object's share
 * of it from the inspected runs' CPU profiles, latency, each isolate's heap per subscriber,
 * and the wake-up after hibernation; then issue 8's targets.
 */
function issue8Section({ info, results, names, workloads, summaries, table }) {
  const designs = ['herald-old', 'herald-workerd', 'herald-shared'].filter((t) => names.includes(t));
  if (!designs.length) return '';
  const hasNchan = names.includes('nchan');
  const of = (t, label) => results.filter((r) => r.target === t && r.workload === label);
  const inspects = info.inspects ?? [];
  const inspectFor = (w) =>
    inspects.find((i) => i.subscribers === w.subscribers && i.events === w.events && (i.rate ?? null) === (w.rate ?? null)) ??
    (w.rate ? null : inspects.find((i) => i.subscribers === w.subscribers && !i.rate));
  const label = { 'herald-old': `old (${'9aaa5aa'})`, 'herald-workerd': 'new (working tree)', 'herald-shared': 'new, one isolate', nchan: 'Nchan' };
  const pct = (x) => (typeof x === 'number' && Number.isFinite(x) ? `${num(x * 100, 0)} %` : 'n/a');

  // 1. Side by side, per workload.
  const rows = [];
  for (const w of workloads) {
    const ins = inspectFor(w);
    for (const t of [...designs, ...(hasNchan ? ['nchan'] : [])]) {
      const s = summaries[w.name]?.[t];
      if (!s) continue;
      const ir = ins && t !== 'nchan' ? of(t, `inspect:${ins.name}`) : [];
      const prof = (f) => (ir.some((r) => r.ok) ? pick(ir, f) : null);
      const objShare = prof((r) => r.profile.object.share);
      const objUs = prof((r) => r.profile.object.usPerDelivery);
      const edgeUs = prof((r) => r.profile.edge.usPerDelivery);
      const objHeap = prof((r) => r.objectHeapKBPerSubscriber);
      const edgeHeap = prof((r) => r.edgeHeapKBPerSubscriber);
      const cell = (x, d = 1) => (x === null ? (t === 'nchan' ? '—' : 'n/a') : num(x, d));
      if (!s.runs) {
        rows.push([w.name, label[t], s.unmeasurable ? 'not measurable here' : 'failed', '', '', '', '', '', '', '', '', '']);
        continue;
      }
      rows.push([
        w.name,
        label[t],
        num(s.cpuUsPerDelivery),
        hasNchan && t !== 'nchan' ? times(ratio(s.cpuUsPerDelivery, summaries[w.name].nchan?.cpuUsPerDelivery)) : t === 'nchan' ? '1' : 'n/a',
        t === 'nchan' ? '—' : objShare === null ? 'n/a' : pct(objShare),
        cell(objUs),
        cell(edgeUs),
        num(s.p50),
        num(s.p99),
        cell(objHeap, 2),
        cell(edgeHeap, 2),
        s.lostAll ? `**${s.lostAll.toLocaleString('en-US')}** of ${s.expectedAll.toLocaleString('en-US')}` : `0 of ${s.expectedAll.toLocaleString('en-US')}`,
      ]);
    }
  }
  const sideBySide = table(
    [
      'workload',
      'design',
      'process CPU µs/delivery',
      '÷ Nchan',
      'object share (profiled)',
      'object µs/delivery (profiled)',
      'edge µs/delivery (profiled)',
      'p50 ms',
      'p99 ms',
      'object heap KB/sub',
      'edge heap KB/sub',
      'lost',
    ],
    rows,
  );

  // 2. The profiled runs themselves.
  const profRows = [];
  for (const ins of inspects) {
    for (const t of designs) {
      const rs = of(t, `inspect:${ins.name}`);
      const r = rs.find((x) => x.ok);
      if (!r) {
        profRows.push([
          ins.name,
          label[t],
          rs.length ? `failed: ${(rs[0].error ?? '').split('\n')[0].slice(0, 120)}` : 'not run',
          '',
          '',
          '',
          '',
          '',
          '',
          '',
          '',
        ]);
        continue;
      }
      const p = r.profile;
      const top = (iso) =>
        Object.entries(iso.files)
          .slice(0, 4)
          .map(([f, us]) => `${f} ${num(us / p.delivered, 1)}`)
          .join(', ');
      profRows.push([
        ins.name,
        label[t],
        `${r.delivered.toLocaleString('en-US')} / ${r.expected.toLocaleString('en-US')}`,
        num(p.processUsPerDelivery),
        `${pct(p.object.share)} = ${num(p.object.usPerDelivery)} (JS ${num(p.object.jsUs / p.delivered)}, GC ${num(p.object.gcUs / p.delivered)}, native ${num(p.object.programUs / p.delivered)})`,
        top(p.object) || '—',
        `${pct(p.edge.share)} = ${num(p.edge.usPerDelivery)} (JS ${num(p.edge.jsUs / p.delivered)}, GC ${num(p.edge.gcUs / p.delivered)}, native ${num(p.edge.programUs / p.delivered)})`,
        top(p.edge) || '—',
        p.entry ? `${pct(p.entry.share)} = ${num(p.entry.usPerDelivery)}` : 'n/a',
        pct(p.runtimeShare),
        `${num(r.objectHeapMB, 1)} / ${r.edgeHeapMB === null ? 'same isolate' : num(r.edgeHeapMB, 1)}`,
      ]);
    }
  }
  const profTable = profRows.length
    ? table(
        [
          'inspected workload',
          'design',
          'delivered',
          'process CPU µs/delivery (profiler on)',
          'object isolate: share = µs/delivery',
          'object: top files (µs/delivery)',
          'edge isolate: share = µs/delivery',
          'edge: top files (µs/delivery)',
          "Miniflare's entry worker",
          'outside every isolate',
          'heap MB after (object / edge)',
        ],
        profRows,
      )
    : '';

  // 3. The wake-up.
  const wakeRows = [];
  for (const S of info.wakeups ?? []) {
    for (const t of designs) {
      const rs = of(t, `wakeup:${S}`);
      const r = rs.find((x) => x.ok);
      if (!r) {
        wakeRows.push([
          S.toLocaleString('en-US'),
          label[t],
          rs.length ? `failed: ${(rs[0].error ?? '').split('\n')[0].slice(0, 120)}` : 'not run',
          '',
          '',
          '',
          '',
          '',
          '',
          '',
          '',
        ]);
        continue;
      }
      const lost = r.expectedDeliveries - r.deliveries;
      wakeRows.push([
        `${r.connected.toLocaleString('en-US')} / ${S.toLocaleString('en-US')}`,
        label[t],
        `${r.hibernated === null ? 'unknown' : r.hibernated ? 'yes' : '**no**'} (quiet ${r.quietS} s${r.attempts?.length > 1 ? `; not after ${r.attempts[0].quietS} s` : ''})`,
        num(r.first.ackMs),
        num(r.first.p50Ms),
        num(r.first.allMs),
        num(r.first.cpuMs),
        num(r.second.ackMs),
        num(r.second.allMs),
        num(r.second.cpuMs),
        `${r.countedBefore.toLocaleString('en-US')} → ${r.countedAfter.toLocaleString('en-US')}${lost ? `; **${lost} deliveries lost**` : ''}${r.duplicates ? `; ${r.duplicates} duplicates` : ''}`,
      ]);
    }
  }
  const wakeTable = wakeRows.length
    ? table(
        [
          'subscribers',
          'design',
          'object hibernated',
          '1st publish: ack ms',
          '1st: half had it (ms)',
          '1st: all had it (ms)',
          '1st: process CPU ms',
          '2nd: ack ms',
          '2nd: all had it (ms)',
          '2nd: process CPU ms',
          'subscribers counted before → after',
        ],
        wakeRows,
      )
    : '';

  // 4. Issue 8's targets.
  const targets = [];
  const w1000 = workloads.filter((w) => w.subscribers === 1000);
  if (hasNchan && designs.includes('herald-workerd') && w1000.length) {
    const parts = w1000.map((w) => {
      const r = ratio(summaries[w.name]['herald-workerd']?.cpuUsPerDelivery, summaries[w.name].nchan?.cpuUsPerDelivery);
      const old = ratio(summaries[w.name]['herald-old']?.cpuUsPerDelivery, summaries[w.name].nchan?.cpuUsPerDelivery);
      return { w: w.name, r, text: `${times(r)} at ${w.name}${old !== null ? ` (old: ${times(old)})` : ''}` };
    });
    const ok = parts.every((p) => p.r !== null && p.r <= 3);
    targets.push([
      'process CPU per delivery ≤ 3× Nchan at 1,000 subscribers',
      `${parts.map((p) => p.text).join('; ')} ${parts.some((p) => p.r === null) ? '⚠️' : ok ? '✅' : '❌'}`,
    ]);
  }
  if (designs.includes('herald-workerd') && designs.includes('herald-old')) {
    const parts = inspects.map((ins) => {
      const n = pick(of('herald-workerd', `inspect:${ins.name}`), (r) => r.profile.object.usPerDelivery);
      const o = pick(of('herald-old', `inspect:${ins.name}`), (r) => r.profile.object.usPerDelivery);
      return { n, o, text: `${ins.name}: ${num(n)} against ${num(o)} µs` };
    });
    const known = parts.filter((p) => p.n !== null && p.o !== null);
    const ok = known.length === parts.length && known.every((p) => p.n <= p.o);
    targets.push([
      "the object's own CPU per delivery no higher than the old design's (profiled)",
      `${parts.map((p) => p.text).join('; ')} ${known.length < parts.length ? '⚠️' : ok ? '✅' : '❌'}`,
    ]);
  }
  if (designs.includes('herald-workerd')) {
    const big = [
      ...workloads.map((w) => ({ label: w.name, S: w.subscribers })),
      ...inspects.map((w) => ({ label: `inspect:${w.name}`, S: w.subscribers })),
      ...(info.wakeups ?? []).map((S) => ({ label: `wakeup:${S}`, S })),
    ].filter((x) => x.S >= 9000);
    if (big.length) {
      const parts = big.map(({ label: l }) => {
        const rs = of('herald-workerd', l);
        if (!rs.length) return { ok: null, text: `${l}: not run` };
        const failed = rs.filter((r) => !r.ok).length;
        const lost = rs.filter((r) => r.ok).reduce((a, r) => a + (r.lost ?? r.expectedDeliveries - r.deliveries ?? 0), 0);
        const unopened = rs.filter((r) => r.ok).reduce((a, r) => a + (r.subscribers - r.connected), 0);
        return {
          ok: !failed && !lost && !unopened,
          text: `${l}: ${lost.toLocaleString('en-US')} lost${unopened ? `, ${unopened} never opened` : ''}${failed ? `, ${failed} runs failed` : ''}`,
        };
      });
      targets.push([
        '0 loss at 9,000 subscribers',
        `${parts.map((p) => p.text).join('; ')} ${parts.some((p) => p.ok === null) ? '⚠️' : parts.every((p) => p.ok) ? '✅' : '❌'}`,
      ]);
    }
  }
  const targetsTable = targets.length ? table(['target (issue 8)', 'herald-workerd (new)'], targets) : '';

  return `## Hibernating channels (issue 8): the old design against the new

The two designs in the same run, each target started afresh for each job, old, new and
Nchan back to back for each job: \`herald-old\` is commit 9aaa5aa (the channel's Durable
Object holds every subscriber's SSE stream), extracted with \`git archive\` at start;
\`herald-workerd\` is the working tree (the edge Worker holds each stream, the object one
hibernatable WebSocket per subscriber). Both run in one workerd through Miniflare with the
edge Worker and the Durable Object as **two workers, so two V8 isolates**, as in
production (the object's worker is bound with \`scriptName\`): each isolate's heap and CPU
profile is its own.

${targetsTable}

### Side by side

Process CPU, latency and loss come from the clean runs (no inspector); the object's share,
the per-isolate CPU and the heaps from a separate start of the same target running the same
workload with workerd's inspector attached (see "How the object's share is measured").
Object µs/delivery is the object isolate's CPU over the deliveries; its share is that
over the whole process's CPU in the same (profiled) window.

${sideBySide}

### The profiled runs

Per delivery, with the profiler on (which costs CPU of its own: compare the first column
with the clean runs above). "Native" is workerd's C++ running under the isolate's lock
with no JavaScript on the stack; native calls made from JavaScript (\`ws.send\`, \`sql.exec\`,
stream writes) are in the calling file's figure. Miniflare's entry worker is a third
isolate that every request passes through before Herald's Worker (not Herald, the same for
both designs, absent in production). "Outside every isolate" is the rest of the process:
workerd's HTTP server and sockets, the plumbing between isolates (service and Durable
Object calls, WebSocket messages once sent, stream pumps), the event loop, the kernel's TCP. The profiles and the bundle their line numbers refer to are written to
\`${'$TMPDIR'}/herald-bench-profiles/\` (open a .cpuprofile in Chrome DevTools).

${profTable}

### The wake-up after hibernation

S live subscribers on one channel, one event to settle them, then ${info.wakeupQuietS ?? 12} s with nothing
published (workerd hibernates an object whose only clients are hibernatable WebSockets
after about 10 s; 12 s is also short of the 15 s after which streams get a heartbeat),
then two publishes, the second right after the first was delivered everywhere. Hibernation
is verified, not assumed: the bench serves the Channel class through a subclass whose
constructor prints a line (bench/targets/miniflare-host.mjs; src/ untouched), and "yes"
means the first publish built a new instance. The old design's object holds its streams
and a heartbeat timer, so it never hibernates: its row is the same publish on an object
that stayed in memory. Acknowledgement: the publish request's round trip; "all had it":
until the last subscriber read the event; CPU: the whole workerd process (all threads,
from /proc/<pid>/task/*/schedstat) from just before the publish until the last subscriber
had it.

${wakeTable}

### How the object's share is measured

- **Layout.** The edge Worker (\`herald\`) and the channel object (\`herald-channel\`, the same
  bundle; only its Channel class is used) are two workers in one workerd process, so two
  isolates on workerd's one thread. Requests reach the edge through Miniflare's entry
  worker (a third isolate, the same for both designs).
- **Profiles.** V8's sampling profiler on both isolates through workerd's DevTools
  inspector, from just before the first publish to the last delivery (the same window as
  the process CPU). V8 samples an isolate only while it is in use, so each sample counts as
  one sampling period (the median gap between consecutive samples; the sampler asks for
  250 µs and runs late on a loaded machine), never as the gap since the previous sample.
  An isolate's CPU is its samples except \`(idle)\`.
- **Attribution by source file.** Each sample's frames are mapped to the source file of the
  bundle line (esbuild's \`// src/…\` module comments): a JavaScript frame to its file; a
  native frame (a V8 builtin or a runtime API such as \`send\`, \`exec\`, \`enqueue\`) to the
  nearest calling frame that has a file; \`(garbage collector)\` and \`(program)\` (workerd's
  C++ under the isolate's lock, no JavaScript on the stack) to the isolate, not to a file.
  With two isolates, the object's share is exactly its isolate's, whatever files ran there
  (the old design's object also runs subscriber.ts and sse.ts; the new one's protocol.ts
  runs on both sides); the by-file split is in the table above.
- **Not charged to either side**: Miniflare's entry worker (profiled too, shown apart), and
  CPU outside every isolate's lock (HTTP server, socket I/O, WebSocket messages between the
  isolates once sent, stream pumps, the kernel). In production the HTTP side sits in
  Cloudflare's front line and runtime, and the object's messages cross the network to the
  edge.
- **Heap.** Each isolate's used V8 heap after a full collection (a heap snapshot forces
  one), taken with the channel up and no subscriber, and again with every subscriber open
  and the events delivered; the difference over the subscribers.
`;
}

/** "What the numbers mean", for the targets of this run. */
function meaning(names) {
  const has = (t) => names.includes(t);
  const items = [
    `- **Which Herald is closer to production.** \`herald-workerd\` (and \`herald-old\`) are: in
  production a request reaches the Worker and its Durable Object in workerd, with no wrangler
  and no local proxy, and the Worker and the object are separate isolates (usually on
  separate machines), as here.${
    has('herald-dev')
      ? ` \`herald-dev\` adds wrangler's Node process and a second workerd running wrangler's
  proxy worker, which every subscriber stream and publish passes through: about double the
  sockets and copies, and that process's memory per connection.`
      : ''
  }`,
    `- **What still differs from production**: real networks (TLS, round trips of tens of ms,
  slow and lossy clients) instead of loopback; Cloudflare's edge in front of the Worker
  (its CPU is not billed to you and not measured here) where here Miniflare's entry worker
  passes every request on; the Worker and the channel's Durable Object may run in different
  places, adding a hop between them, while here they share a process and its one thread;
  Durable Object storage is replicated before a write is acknowledged, while here SQLite
  writes to a local disk; the limits of a real Durable Object (one thread, 128 MB, about
  1,000 requests/s) are not enforced by workerd here.`,
  ];
  if (has('workerd-floor')) {
    items.push(`- **\`workerd-floor\`** is not Herald: a minimal Durable Object broadcaster in the same
  single workerd (no storage, auth, validation, heartbeats or backpressure) that writes
  every event to every stream as a chunk of its own: the runtime's cost of an HTTP response
  and a ReadableStream per subscriber and of one chunk per delivery.`);
  }
  if (has('nchan')) {
    items.push(`- **Nchan** runs as a stock nginx would: a worker per core, its channel in shared memory.
  Herald's channel is one Durable Object, so one thread, however many cores the machine has.`);
  }
  if (has('node-broadcast')) {
    items.push(`- **The Node broadcaster** does nothing but write each event to each socket. If its latency
  or deliveries/s are no better than a hub's, the load generator is the limit for that
  workload, not the hub.`);
  }
  return `${items.join('\n')}\n`;
}
