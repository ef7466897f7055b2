// The trivial Node broadcaster (node-broadcast-server.mjs) in a child Node process.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { client, freePort, sleep, waitHealthy } from '../lib/http.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

export const nodeBroadcast = {
  name: 'node-broadcast',
  description:
    'a trivial in-memory SSE broadcaster in one child Node process (no auth, no storage, no backpressure): the ceiling of what the load generator can measure',
  batch: true,
  fdsPerSubscriber: 1,
  async start() {
    const port = await freePort();
    const child = spawn(process.execPath, [path.join(here, 'node-broadcast-server.mjs'), String(port)], { detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const http = client(port);
    const stop = async () => {
      http.close();
      child.stdin.end();
      try {
        process.kill(child.pid, 'SIGTERM');
      } catch {}
      for (let i = 0; i < 30 && child.exitCode === null && child.signalCode === null; i++) await sleep(100);
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {}
    };
    try {
      await waitHealthy(port, child, () => output, 'node broadcaster', 10_000);
    } catch (error) {
      await stop();
      throw error;
    }
    return {
      port,
      measuredPids: async () => [child.pid],
      output: () => output,
      async publish(channel, datas) {
        const body = JSON.stringify(datas.length === 1 ? { data: datas[0] } : { events: datas.map((data) => ({ data })) });
        const res = await http.request('POST', `/v1/channels/${channel}/events`, { headers: { 'Content-Type': 'application/json' }, body });
        if (res.status !== 201) throw new Error(`publish answered ${res.status}`);
        return { lastId: JSON.parse(res.body).ids.at(-1) };
      },
      subscribeRequest(channel, resumeAfter) {
        return { path: `/v1/channels/${channel}/events`, headers: resumeAfter === undefined ? {} : { 'Last-Event-ID': resumeAfter } };
      },
      async subscriberCount(channel) {
        const res = await http.request('GET', `/v1/channels/${channel}`);
        return JSON.parse(res.body).subscribers;
      },
      stop,
    };
  },
};
