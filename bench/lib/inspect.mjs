// A fan-out workload run with workerd's inspector attached (issue 8): V8 CPU profiles of the
// channel object's isolate and of the edge Worker's while the events are published and
// delivered, and each isolate's used heap (after a full GC) before the subscribers open
// and once they all have the events. Run on its own start of the target, apart from the
// workload's clean run: the profiler and the snapshots cost CPU of their own.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { EDGE_FILES, OBJECT_FILES, bundleFiles, summarizeProfile } from './cpuprofile.mjs';
import { runWorkload } from './workload.mjs';

/** Sampling interval of the profiler (µs). */
const SAMPLING_US = 250;
export const PROFILE_DIR = path.join(os.tmpdir(), 'herald-bench-profiles');

/**
 * `options` also go to runWorkload (infoAfterMs, threads). A target with a relay isolate
 * (herald-relays, herald-norelay: issue 9) has it profiled too, summed as `relay`.
 */
export async function runInspected(instance, workload, { log = () => {}, label = 'herald', ...options } = {}) {
  const { edge, object, entry, relay } = instance.isolates;
  const split = edge !== object;
  const sessions = { ...(split ? { object, edge } : { shared: object }), ...(relay ? { relay } : {}), ...(entry ? { entry } : {}) };
  let heapBefore;
  const heaps = async () => ({ object: await object.used(), ...(split ? { edge: await edge.used() } : {}), ...(relay ? { relay: await relay.used() } : {}) });
  const hooks = {
    async idle() {
      heapBefore = await heaps();
    },
    async held() {
      for (const s of Object.values(sessions)) {
        await s.call('Profiler.enable');
        await s.call('Profiler.setSamplingInterval', { interval: SAMPLING_US });
      }
      for (const s of Object.values(sessions)) await s.call('Profiler.start');
    },
    async done({ delivered, processCpuUs }) {
      const profiles = {};
      for (const [name, s] of Object.entries(sessions)) profiles[name] = (await s.call('Profiler.stop')).profile;
      const fileOf = bundleFiles(await readFile(instance.bundle, 'utf8'));
      await mkdir(PROFILE_DIR, { recursive: true });
      const sums = {};
      for (const [name, profile] of Object.entries(profiles)) {
        sums[name] = summarizeProfile(profile, fileOf, SAMPLING_US);
        await writeFile(path.join(PROFILE_DIR, `${label}-${name}.cpuprofile`), JSON.stringify(profile));
      }
      await writeFile(path.join(PROFILE_DIR, `${label}.bundle.js`), await readFile(instance.bundle));
      if (!split) {
        // One isolate: the object's files against the rest; its GC split in the same ratio.
        const s = sums.shared;
        const objectFiles = Object.entries(s.files)
          .filter(([f]) => OBJECT_FILES.has(f))
          .reduce((a, [, us]) => a + us, 0);
        const share = s.fileUs ? objectFiles / s.fileUs : 0;
        const rest = s.gcUs + s.otherUs + s.programUs;
        sums.object = {
          ...s,
          files: Object.fromEntries(Object.entries(s.files).filter(([f]) => OBJECT_FILES.has(f))),
          fileUs: objectFiles,
          busyUs: objectFiles + rest * share,
          gcUs: s.gcUs * share,
          programUs: s.programUs * share,
        };
        sums.edge = {
          ...s,
          files: Object.fromEntries(Object.entries(s.files).filter(([f]) => !OBJECT_FILES.has(f))),
          fileUs: s.fileUs - objectFiles,
          busyUs: s.fileUs - objectFiles + rest * (1 - share),
          gcUs: s.gcUs * (1 - share),
          programUs: s.programUs * (1 - share),
        };
        delete sums.shared;
      }
      const heapAfter = await heaps();
      return { profile: summarize(sums, delivered, processCpuUs, split), heapBefore, heapAfter };
    },
  };
  const r = await runWorkload(instance, workload, { log, hooks, ...options });
  const per = (k) => (r.heapAfter[k] - r.heapBefore[k]) / Math.max(r.connected, 1) / 1024;
  return {
    ...r,
    split,
    objectHeapKBPerSubscriber: per('object'),
    edgeHeapKBPerSubscriber: split ? per('edge') : null,
    objectHeapMB: r.heapAfter.object / 2 ** 20,
    edgeHeapMB: split ? r.heapAfter.edge / 2 ** 20 : null,
    ...(relay ? { relayHeapMB: r.heapAfter.relay / 2 ** 20 } : {}),
  };
}

function summarize(sums, delivered, processCpuUs, split) {
  const isolate = (s) => ({
    busyUs: s.busyUs,
    jsUs: s.fileUs + s.otherUs,
    gcUs: s.gcUs,
    programUs: s.programUs,
    samples: s.samples,
    periodUs: s.periodUs,
    usPerDelivery: delivered ? s.busyUs / delivered : null,
    share: processCpuUs ? s.busyUs / processCpuUs : null,
    files: Object.fromEntries(
      Object.entries(s.files)
        .sort((a, b) => b[1] - a[1])
        .map(([f, us]) => [f, Math.round(us)]),
    ),
  });
  const object = isolate(sums.object);
  const edge = isolate(sums.edge);
  const entry = sums.entry ? isolate(sums.entry) : null;
  // The relays' isolate (issue 9's three-worker layout), absent otherwise.
  const relay = sums.relay ? isolate(sums.relay) : null;
  return {
    split,
    delivered,
    processCpuUs,
    processUsPerDelivery: delivered ? processCpuUs / delivered : null,
    object,
    edge,
    // Miniflare's entry worker (every request passes through it before Herald's Worker).
    entry,
    ...(relay ? { relay } : {}),
    // What no isolate used (outside every isolate's lock): workerd's HTTP server and
    // sockets, the plumbing between isolates, the kj event loop, the kernel.
    runtimeShare: processCpuUs ? 1 - (sums.object.busyUs + sums.edge.busyUs + (sums.entry?.busyUs ?? 0) + (sums.relay?.busyUs ?? 0)) / processCpuUs : null,
    // The object's files wherever they ran (in a split layout, only in the object's isolate).
    objectFilesUs: Object.entries({ ...sums.object.files })
      .filter(([f]) => OBJECT_FILES.has(f))
      .reduce((a, [, us]) => a + us, 0),
    edgeFilesUs: Object.entries({ ...sums.edge.files })
      .filter(([f]) => EDGE_FILES.has(f))
      .reduce((a, [, us]) => a + us, 0),
  };
}
