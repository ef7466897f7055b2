/**
 * Helpers for tests that restart the hub: hubs that share one storage directory and one
 * copy of the Worker, and an EventSource whose reconnections can be held back.
 */
import { onTestFinished } from 'vitest';
import { Recorder } from './clients';
import { removeDir, snapshotApp, startHub, tempDir, type Hub } from './hub';

/**
 * One test's storage directory and copy of the Worker, shared by the hubs it starts
 * (the restarted hub runs the same code on the same storage, with the same `vars`), all
 * stopped and removed when the test finishes.
 */
export async function testSetup(vars: Record<string, string | number> = {}): Promise<{ start: (options?: { port?: number }) => Promise<Hub> }> {
  const persistTo = await tempDir();
  const app = await snapshotApp();
  const hubs: Hub[] = [];
  onTestFinished(async () => {
    await Promise.all(hubs.map((hub) => hub.stop()));
    await Promise.all([removeDir(persistTo), removeDir(app)]);
  });
  return {
    start: async ({ port } = {}) => {
      const hub = await startHub({ persistTo, app, port, vars });
      hubs.push(hub);
      return hub;
    },
  };
}

/**
 * An EventSource whose own fetch is watched: `sent` holds the headers of each
 * (re)connection, `received()` the stream text so far, and `hold()` makes reconnections
 * wait until `release()`, so that events published meanwhile can only arrive by replay.
 */
export function gatedClient(url: string, types: readonly string[] = ['message']) {
  const sent: Array<Record<string, string>> = [];
  let text = '';
  let gate = Promise.resolve();
  let release = (): void => {};
  const client = new Recorder(url, types, {
    fetch: async (target, init) => {
      sent.push({ ...init.headers });
      await gate;
      const res = await fetch(target, init);
      if (!res.body) return res;
      const decoder = new TextDecoder();
      const watched = res.body.pipeThrough(
        new TransformStream<Uint8Array, Uint8Array>({
          transform(chunk, controller) {
            text += decoder.decode(chunk, { stream: true });
            controller.enqueue(chunk);
          },
        }),
      );
      return new Response(watched, res);
    },
  });
  onTestFinished(() => client.close());
  return {
    client,
    sent,
    received: () => text,
    hold: () => {
      gate = new Promise((resolve) => (release = resolve));
    },
    release: () => release(),
  };
}
