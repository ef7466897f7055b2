// A V8 CPU profile (DevTools' Profiler domain) of one isolate, summed by source file of the
// bundle workerd ran. esbuild (not minified) starts every module of the bundle with a
// `// <path>` comment line, so a sample's line number names the source file it ran.
//
// How each sample is charged:
//  - a JavaScript frame of the bundle at the top of the stack: its source file;
//  - native code at the top (a V8 builtin or a runtime API with no script: `send`, `exec`,
//    `enqueue`, …): the nearest caller on the stack that is in the bundle, i.e. the file
//    that called into native code pays for it;
//  - "(garbage collector)": the isolate's GC, charged to the isolate, to no file;
//  - "(program)": native code with no JavaScript on the stack while the isolate is in use
//    (workerd's C++ working under this isolate's lock: delivering a message or a promise
//    resolution into it, pumping its streams): charged to the isolate, to no file;
//  - "(idle)": the isolate waiting, not CPU.
//
// Time: V8 samples an isolate only while it is in use (locked by its thread), so a sample's
// time delta spans whatever ran between (other isolates, workerd outside any isolate, the
// thread asleep). Each sample therefore counts as one sampling period, the isolate's
// effective one: the median gap between consecutive samples, among those gaps short
// enough to be the sampler's own pace (under 5× the requested interval). On a loaded
// machine the sampler thread runs late, so that is more than the requested interval.
import path from 'node:path';

/** Bundle line (1-based) → source file label, from esbuild's module comments. */
export function bundleFiles(bundleText) {
  const starts = [];
  const lines = bundleText.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^\/\/ (\S+\.(?:[cm]?[jt]s|tsx?))$/.exec(lines[i]);
    if (m) starts.push([i + 1, label(m[1])]);
  }
  return (line) => {
    let lo = 0;
    let hi = starts.length - 1;
    let found = 'bundle (no module)';
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (starts[mid][0] <= line) {
        found = starts[mid][1];
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  };
}

/** `src/channel.ts` → `channel.ts`; `node_modules/hono/dist/…` → `hono`; the bench's wrapper → `bench entry`. */
function label(file) {
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
  if (nm) return nm[1];
  if (/bundle\/entry\.js$/.test(file)) return 'bench entry';
  return path.basename(file);
}

/**
 * Sums a profile's samples by where they are charged (see above): `{ files: {file: µs},
 * gcUs, programUs, idleUs, otherUs, busyUs (files + gc + program + other), periodUs, … }`.
 */
export function summarizeProfile(profile, fileOfLine, requestedUs = 250) {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const chargeOf = new Map(); // node id → charge key
  const charge = (id) => {
    if (chargeOf.has(id)) return chargeOf.get(id);
    let key = null;
    for (let at = id; at !== undefined; at = parent.get(at)) {
      const f = nodes.get(at).callFrame;
      if (f.url && f.lineNumber >= 0) {
        key = fileOfLine(f.lineNumber + 1);
        break;
      }
    }
    if (key === null) {
      const name = nodes.get(id).callFrame.functionName;
      key = name === '(idle)' ? ':idle' : name === '(program)' ? ':program' : name === '(garbage collector)' ? ':gc' : ':other';
    }
    chargeOf.set(id, key);
    return key;
  };
  const files = {};
  let gcUs = 0;
  let programUs = 0;
  let idleUs = 0;
  let otherUs = 0;
  const paced = profile.timeDeltas
    .slice(1)
    .filter((d) => d > 0 && d < 5 * requestedUs)
    .sort((a, b) => a - b);
  const periodUs = paced.length ? paced[paced.length >> 1] : requestedUs;
  const sampledUs = profile.endTime - profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = periodUs;
    const key = charge(profile.samples[i]);
    if (key === ':idle') idleUs += dt;
    else if (key === ':program') programUs += dt;
    else if (key === ':gc') gcUs += dt;
    else if (key === ':other') otherUs += dt;
    else files[key] = (files[key] ?? 0) + dt;
  }
  const fileUs = Object.values(files).reduce((a, b) => a + b, 0);
  return { files, gcUs, programUs, idleUs, otherUs, fileUs, busyUs: fileUs + gcUs + otherUs + programUs, samples: profile.samples.length, periodUs, sampledUs };
}

/** The files of the channel object and of the edge Worker (issue 8's split of the current design). */
export const OBJECT_FILES = new Set(['channel.ts', 'log.ts', 'sockets.ts', 'protocol.ts']);
export const EDGE_FILES = new Set(['session.ts', 'link.ts', 'subscriber.ts', 'merge.ts', 'index.ts', 'hono']);
