// Nchan (nginx + libnginx-mod-nchan from Debian's packages), the reference. The bench
// installs both when missing, writes its own nginx.conf in a temporary folder, runs nginx
// in the foreground on a free loopback port (as `nobody` when started by root, so the whole
// server is unprivileged), and stops it at the end.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { client, freePort, sleep, waitHealthy } from '../lib/http.mjs';

const NGINX = '/usr/sbin/nginx';
const MODULE = '/usr/lib/nginx/modules/ngx_nchan_module.so';
const isRoot = process.getuid?.() === 0;

let installed = false;
function ensureInstalled(log) {
  if (installed) return;
  if (!existsSync(NGINX) || !existsSync(MODULE)) {
    if (!isRoot) throw new Error('nginx and libnginx-mod-nchan are missing; install them (apt-get install nginx libnginx-mod-nchan) or run the bench as root');
    log('installing nginx and libnginx-mod-nchan with apt-get …');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const apt = (args) => execFileSync('apt-get', args, { env, stdio: ['ignore', 'ignore', 'inherit'], timeout: 300_000 });
    try {
      apt(['install', '-y', '--no-install-recommends', 'nginx', 'libnginx-mod-nchan']);
    } catch {
      apt(['update']);
      apt(['install', '-y', '--no-install-recommends', 'nginx', 'libnginx-mod-nchan']);
    }
  }
  // Nchan's message temp path is fixed at nginx's compiled-in /var/lib/nginx/body (its
  // nchan_message_temp_path directive cannot override it: "duplicate"), and nginx creates
  // it at start. Debian's nginx makes it on first start; do the same so that an
  // unprivileged nginx finds it. Nothing is written there unless a message is too large for memory.
  if (isRoot) execFileSync('mkdir', ['-p', '/var/lib/nginx/body']);
  installed = true;
}

export function nchanVersion() {
  try {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format syntax.
    const pkg = (name) => execFileSync('dpkg-query', ['-W', '-f=${Version}', name], { encoding: 'utf8' });
    return `nginx ${pkg('nginx')}, libnginx-mod-nchan ${pkg('libnginx-mod-nchan')}`;
  } catch {
    return 'nginx + nchan (version unknown)';
  }
}

function config(dir, port) {
  return `# Written by bench/targets/nchan.mjs for one benchmark run.
load_module ${MODULE};
worker_processes auto;          # one per core, as a stock nginx runs
worker_rlimit_nofile 20000;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events {
  worker_connections 19000;
}
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  client_body_buffer_size 1m;   # publishes stay in memory
  nchan_max_reserved_memory 256M;
  server {
    listen 127.0.0.1:${port};
    # POST publishes; GET with Accept: application/json answers the channel's info.
    location ~ ^/pub/([A-Za-z0-9_.:~@-]+)$ {
      nchan_publisher http;
      nchan_channel_id $1;
      nchan_message_buffer_length 1000;
      nchan_message_timeout 1d;
    }
    # EventSource only. Live unless the request names a message: Last-Event-ID (what
    # EventSource sends on reconnect) or ?last_event_id=.
    location ~ ^/sub/([A-Za-z0-9_.:~@-]+)$ {
      nchan_subscriber eventsource;
      nchan_channel_id $1;
      nchan_subscriber_first_message newest;
    }
    location = /healthz {
      return 200 '{"ok":true}';
    }
  }
}
`;
}

export const nchan = {
  name: 'nchan',
  description:
    'nginx with the Nchan module (memory store), worker_processes auto (2 here), EventSource subscribers, a 1,000-message buffer; the master and worker processes are measured',
  batch: false,
  fdsPerSubscriber: 1,
  async start({ log = () => {} } = {}) {
    ensureInstalled(log);
    const port = await freePort();
    const dir = await mkdtemp(path.join(os.tmpdir(), 'herald-bench-nchan-'));
    await writeFile(path.join(dir, 'nginx.conf'), config(dir, port));
    for (const sub of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) await mkdir(path.join(dir, sub));
    let ids = {};
    if (isRoot) {
      const uid = Number(execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' }));
      const gid = Number(execFileSync('id', ['-g', 'nobody'], { encoding: 'utf8' }));
      ids = { uid, gid };
      for (const p of [dir, ...['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi', 'nginx.conf'].map((s) => path.join(dir, s))]) await chown(p, uid, gid);
    }
    const child = spawn(NGINX, ['-p', dir, '-c', 'nginx.conf', '-e', `${dir}/error.log`, '-g', 'daemon off;'], {
      ...ids,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const http = client(port);
    const stop = async () => {
      http.close();
      const signal = (sig) => {
        try {
          process.kill(-child.pid, sig);
        } catch {}
      };
      signal('SIGQUIT'); // graceful: nginx workers close their connections and exit
      for (let i = 0; i < 50 && child.exitCode === null && child.signalCode === null; i++) await sleep(100);
      signal('SIGKILL');
      await sleep(100);
      await rm(dir, { recursive: true, force: true });
    };
    try {
      await waitHealthy(port, child, () => output, 'nginx', 10_000);
    } catch (error) {
      await stop();
      throw error;
    }
    return {
      port,
      measuredPids: async () => [child.pid],
      output: () => output,
      async publish(channel, datas) {
        if (datas.length !== 1) throw new Error('Nchan has no batch publish');
        const res = await http.request('POST', `/pub/${channel}`, { headers: { Accept: 'application/json', 'Content-Type': 'text/plain' }, body: datas[0] });
        if (res.status !== 201 && res.status !== 202) throw new Error(`nchan publish answered ${res.status}: ${res.body.slice(0, 200)}`);
        return { lastId: JSON.parse(res.body).last_message_id };
      },
      subscribeRequest(channel, resumeAfter) {
        return { path: `/sub/${channel}`, headers: resumeAfter === undefined ? {} : { 'Last-Event-ID': resumeAfter } };
      },
      // No subscriberCount: with more than one nginx worker, the channel info's
      // "subscribers" lags and undercounts (15 of 20 open, still 30 s later). Nchan's
      // EventSource writes its opening ": hi" once the subscriber is queued on the channel.
      stop,
    };
  },
};
