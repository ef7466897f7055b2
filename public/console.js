/**
 * Herald's console: watches one channel through a plain EventSource, publishes test
 * events and reads the channel's info, all on the hub's own origin and routes (docs/api.md).
 * While a channel is watched, its info is read every few seconds for a live chart of
 * events/s and subscribers, drawn as inline SVG.
 * No dependencies and no build step: this file is what the browser runs.
 */

/** Log entries kept; older ones are dropped so that a busy channel cannot fill the page. */
const MAX_ENTRIES = 500;
/** How many of the channel's latest events are read, on connect, for the names in use. */
const NAME_SCAN = 100;
/** Event types with listeners of their own: never added from the names field. */
const OWN_EVENTS = new Set(['message', 'gap', 'close']);
/** How often the channel's info is read for the chart (while a channel is watched and the tab is visible). */
const SAMPLE_MS = 2_000;
/** How far back the chart goes: older samples are dropped. */
const CHART_MS = 5 * 60_000;
/** Room above a series' highest value, so a steady line does not run along the top edge. */
const HEADROOM = 1.25;
/** Storage keys. The publish key and token go to sessionStorage only: never the URL, never kept after the tab. */
const STORED = { channel: 'herald.channel', key: 'herald.key', token: 'herald.token' };

const $ = (id) => document.getElementById(id);
const ui = {
  state: $('state'),
  subscribe: $('subscribe'),
  channel: $('channel'),
  token: $('token'),
  fromStart: $('from-start'),
  names: $('names'),
  log: $('log'),
  publish: $('publish'),
  key: $('key'),
  event: $('event'),
  data: $('data'),
  publishResult: $('publish-result'),
  info: $('info'),
  counters: $('counters'),
  stats: $('stats'),
  infoStatus: $('info-status'),
  chart: $('chart'),
  chartFrom: $('chart-from'),
  chartTo: $('chart-to'),
  samples: $('samples'),
};

/**
 * The channel being watched. `state` is what the page shows; `names` the named event
 * types with a listener on `source`; `lastId` the id of the last event shown, which is
 * what EventSource sends as Last-Event-ID when it reconnects.
 * @type {{ source: EventSource, url: string, channel: string, state: 'connecting' | 'open' | 'reconnecting', names: Set<string>, lastId: string } | null}
 */
let watch = null;
/** Bumped by every connect and disconnect, so a connect still awaiting history can tell it was superseded. */
let generation = 0;

// ---------------------------------------------------------------- rendering

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** A `<time>` showing the time of day, to the millisecond unless `ms` is false. */
function timeOfDay(at = new Date(), ms = true) {
  const time = el(
    'time',
    '',
    at.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', ...(ms ? { fractionalSecondDigits: 3 } : {}), hourCycle: 'h23' }),
  );
  time.dateTime = at.toISOString();
  return time;
}

const now = () => timeOfDay();

/** Adds an entry on top of the log and drops the oldest past {@link MAX_ENTRIES}. */
function add(item) {
  ui.log.prepend(item);
  while (ui.log.childElementCount > MAX_ENTRIES) ui.log.lastElementChild.remove();
}

/** A line about the connection rather than an event: `kind` is open, lost, reconnect, gap, close or closed. */
function note(kind, text) {
  const item = el('li', 'note');
  item.dataset.kind = kind;
  item.append(now(), el('span', 'text', text));
  add(item);
}

function setState(state, channel = watch?.channel) {
  if (watch) watch.state = state;
  ui.state.dataset.state = state;
  ui.state.textContent = channel ? `${state} · ${channel}` : state;
}

/** JSON objects and arrays indented; anything else as it came. */
function pretty(text) {
  try {
    const value = JSON.parse(text);
    if (value !== null && typeof value === 'object') return JSON.stringify(value, null, 2);
  } catch {
    // Not JSON: shown as is.
  }
  return text;
}

/** docs/api.md's error body as one line, or the status and text for anything else. */
function describeError(status, text) {
  try {
    const { error } = JSON.parse(text);
    if (error?.code) return `${status} ${error.code}: ${error.message}`;
  } catch {
    // Not an API error body.
  }
  return `${status}: ${text}`;
}

// ---------------------------------------------------------------- URLs and credentials

const channelUrl = (channel) => `/v1/channels/${encodeURIComponent(channel)}`;

function eventsUrl(channel, params) {
  const query = params.toString();
  return `${channelUrl(channel)}/events${query ? `?${query}` : ''}`;
}

/** The subscribe token goes in `?token=`: EventSource cannot send an Authorization header. */
function subscriberParams(extra = {}) {
  const params = new URLSearchParams(extra);
  const token = ui.token.value.trim();
  if (token) params.set('token', token);
  return params;
}

const authorization = () => ({ Authorization: `Bearer ${ui.key.value.trim()}` });

function channelFromHash() {
  return new URLSearchParams(location.hash.slice(1)).get('channel');
}

// ---------------------------------------------------------------- named events

/** The names in the field, without the types that have listeners of their own. */
function fieldNames() {
  return new Set(ui.names.value.split(/[\s,]+/).filter((name) => name && !OWN_EVENTS.has(name)));
}

/** Adds and removes listeners so that exactly the field's names are shown. */
function listen() {
  if (!watch) return;
  const wanted = fieldNames();
  for (const name of wanted) if (!watch.names.has(name)) watch.source.addEventListener(name, show);
  for (const name of watch.names) if (!wanted.has(name)) watch.source.removeEventListener(name, show);
  watch.names = wanted;
}

function addNames(names) {
  const merged = fieldNames();
  for (const name of names) if (!OWN_EVENTS.has(name)) merged.add(name);
  ui.names.value = [...merged].join(', ');
  listen();
}

/**
 * The event names among the channel's latest events, from the JSON history (docs/api.md):
 * a first page for the last id, then the events before it.
 */
async function recentNames(channel) {
  const read = async (params) => {
    const res = await fetch(eventsUrl(channel, subscriberParams(params)), { headers: { Accept: 'application/json' } });
    if (!res.ok) throw new Error(String(res.status));
    return res.json();
  };
  try {
    const { lastEventId } = await read({ limit: '1' });
    const after = Math.max(0, Number(lastEventId ?? 0) - NAME_SCAN);
    const page = await read({ after: String(after), limit: String(NAME_SCAN) });
    return page.events.map((event) => event.event);
  } catch {
    // No history to read (a private channel without its token, say): the stream says why.
    return [];
  }
}

// ---------------------------------------------------------------- the stream

function show(event) {
  watch.lastId = event.lastEventId;
  const item = el('li', 'event');
  item.dataset.kind = 'event';
  item.dataset.id = event.lastEventId;
  item.dataset.event = event.type;
  const head = el('div', 'head');
  head.append(el('span', 'id', event.lastEventId), el('span', 'name', event.type), now());
  item.append(head, el('pre', 'data', pretty(event.data)));
  add(item);
}

const resumePoint = (current) => (current.lastId ? `after event ${current.lastId}` : 'where the stream left off');

async function connect() {
  if (!ui.channel.reportValidity()) return;
  const channel = ui.channel.value.trim();
  stop();
  const mine = ++generation;
  localStorage.setItem(STORED.channel, channel);
  history.replaceState(null, '', `#${new URLSearchParams({ channel })}`);
  setState('connecting', channel);
  const fromStart = ui.fromStart.checked;
  note('connecting', `connecting to ${channel}${fromStart ? ', from the beginning' : ''}`);
  // Listeners must exist before the stream starts, or a replayed named event is missed.
  const names = await recentNames(channel);
  if (mine !== generation) return;

  const url = eventsUrl(channel, subscriberParams(fromStart ? { lastEventId: '0' } : {}));
  const source = new EventSource(url);
  watch = { source, url, channel, state: 'connecting', names: new Set(), lastId: '' };
  const current = watch;
  startSampling(channel);
  source.addEventListener('message', show);
  addNames(names);

  source.onopen = () => {
    if (current.state === 'reconnecting') note('reconnect', `reconnected; the hub resumes ${resumePoint(current)}`);
    else note('open', 'open');
    setState('open');
    void refreshInfo();
  };
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) {
      void refused(current);
    } else if (current.state !== 'reconnecting') {
      // EventSource retries by itself (after the stream's `retry:`), sending Last-Event-ID.
      note('lost', current.state === 'open' ? `connection lost; reconnecting to resume ${resumePoint(current)}` : 'cannot reach the hub; retrying');
      setState('reconnecting');
    }
  };
  source.addEventListener('gap', (event) => {
    const gap = JSON.parse(event.data);
    note(
      'gap',
      `gap: events after ${gap.lastEventId} are no longer retained (oldest kept ${gap.oldestId ?? 'none'}, latest ${gap.latestId ?? 'none'}); what is kept follows`,
    );
  });
  source.addEventListener('close', () => {
    note('close', 'the channel was deleted (close event); disconnected');
    stop();
  });
}

/** EventSource gives up on a refused stream without saying why: ask once more with fetch. */
async function refused(current) {
  if (watch === current) stop();
  const abort = new AbortController();
  let why;
  try {
    const res = await fetch(current.url, { headers: { Accept: 'text/event-stream' }, signal: abort.signal });
    if (res.status === 204) why = '204: the channel is deleted until its next publish';
    else if (!res.ok) why = describeError(res.status, await res.text());
    else why = `it answers ${res.status} now; connect again`;
  } catch {
    why = 'the hub cannot be reached';
  } finally {
    abort.abort(); // a stream that opened after all is not read
  }
  note('closed', `the hub refused the stream (${why}); EventSource does not retry`);
}

/** Closes the stream, if any; the page shows closed. */
function stop() {
  generation++;
  stopSampling();
  watch?.source.close();
  watch = null;
  setState('closed');
}

// ---------------------------------------------------------------- publish and info

async function publish() {
  if (!ui.channel.reportValidity() || !ui.publish.reportValidity()) return;
  const name = ui.event.value.trim();
  // Before sending: the event can arrive before the answer does.
  if (name) addNames([name]);
  const body = { data: ui.data.value, ...(name ? { event: name } : {}) };
  ui.publishResult.textContent = 'publishing…';
  delete ui.publishResult.dataset.status;
  try {
    const res = await fetch(`${channelUrl(ui.channel.value.trim())}/events`, {
      method: 'POST',
      headers: { ...authorization(), 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    ui.publishResult.dataset.status = String(res.status);
    ui.publishResult.textContent = `${res.status}\n${pretty(text)}`;
  } catch {
    ui.publishResult.textContent = 'The hub cannot be reached.';
  }
  await refreshInfo();
}

/** Bumped by every info request, so that a slower, older answer cannot overwrite a newer one. */
let infoRequest = 0;

/** Shows an info answer (`{}` for none). `stats` (issue 11) is shown only when the hub sends it. */
function fillInfo(info) {
  for (const dd of ui.info.querySelectorAll('dd')) dd.textContent = String(info[dd.dataset.field] ?? '–');
  ui.counters.hidden = !info.stats;
  for (const dd of ui.stats.querySelectorAll('dd')) dd.textContent = String(info.stats?.[dd.dataset.field] ?? '–');
}

/**
 * Reads the channel's info and shows it, unless a newer read was started meanwhile.
 * Resolves to the info, or null when there is none to read.
 */
async function refreshInfo() {
  const mine = ++infoRequest;
  const latest = () => mine === infoRequest;
  if (!ui.key.value.trim() || !ui.channel.checkValidity()) {
    ui.infoStatus.textContent = 'Needs a channel and the publish key.';
    return null;
  }
  try {
    const res = await fetch(channelUrl(ui.channel.value.trim()), { headers: authorization(), cache: 'no-store' });
    const text = await res.text();
    if (!res.ok) {
      if (latest()) {
        fillInfo({});
        ui.infoStatus.textContent = describeError(res.status, text);
      }
      return null;
    }
    const info = JSON.parse(text);
    if (latest()) {
      fillInfo(info);
      ui.infoStatus.textContent = `${info.channel}, read at ${now().textContent}`;
    }
    return info;
  } catch {
    if (latest()) ui.infoStatus.textContent = 'The hub cannot be reached.';
    return null;
  }
}

// ---------------------------------------------------------------- live chart

/**
 * The chart of the watched channel: its samples, oldest first, each with the time its
 * info arrived (ms since the epoch), the last id, the subscribers, and the events/s since
 * the sample before (null for the first). Ids are never reused, a delete included
 * (docs/api.md), so the difference of last ids is the number of events stored between
 * two samples.
 * @type {{ channel: string, samples: Array<{ at: number, lastId: number, subscribers: number, rate: number | null }>, timer: number, busy: boolean }}
 */
const chart = { channel: '', samples: [], timer: 0, busy: false };

/** A new chart for `channel`, read at once and then every {@link SAMPLE_MS}. */
function startSampling(channel) {
  stopSampling();
  chart.channel = channel;
  chart.samples = [];
  drawChart();
  chart.timer = setInterval(() => void sample(), SAMPLE_MS);
  void sample();
}

/** Stops reading; the chart keeps what it shows. */
function stopSampling() {
  clearInterval(chart.timer);
  chart.timer = 0;
}

async function sample() {
  // A hidden tab reads nothing; the first sample after it averages over the time away.
  // One read at a time: a slow answer is not overtaken by the next.
  if (!chart.timer || chart.busy || document.visibilityState !== 'visible') return;
  chart.busy = true;
  try {
    const info = await refreshInfo();
    if (chart.timer && info?.channel === chart.channel) record(info, Date.now());
  } finally {
    chart.busy = false;
  }
}

function record(info, at) {
  const lastId = Number(info.lastEventId ?? 0);
  const before = chart.samples.at(-1);
  const rate = before && at > before.at && lastId >= before.lastId ? ((lastId - before.lastId) * 1000) / (at - before.at) : null;
  chart.samples.push({ at, lastId, subscribers: info.subscribers, rate });
  while (chart.samples[0].at < at - CHART_MS) chart.samples.shift();
  drawChart();
}

const formatRate = (rate) => (rate < 10 ? rate.toFixed(1) : String(Math.round(rate)));

/** The top of a scale: 1, 2 or 5 times a power of ten, at least {@link HEADROOM} × `peak` and at least 1. */
function scaleTop(peak) {
  const want = Math.max(1, peak * HEADROOM);
  const power = 10 ** Math.floor(Math.log10(want));
  return [1, 2, 5, 10].map((step) => step * power).find((top) => top >= want);
}

/**
 * Draws each series over the time the samples cover, in a 100 × 40 viewBox stretched to
 * the box (the line keeps its width: `vector-effect` in console.css), and lists the
 * samples in the table that stands for the chart to assistive technology (and to tests).
 */
function drawChart() {
  const { samples } = chart;
  const first = samples[0];
  const latest = samples.at(-1);
  const span = Math.max((latest?.at ?? 0) - (first?.at ?? 0), SAMPLE_MS);
  for (const [key, format] of [
    ['rate', formatRate],
    ['subscribers', String],
  ]) {
    const box = ui.chart.querySelector(`[data-series="${key}"]`);
    const points = samples.filter((s) => s[key] !== null);
    const top = scaleTop(Math.max(0, ...points.map((s) => s[key])));
    const xy = (s) => `${(((s.at - first.at) / span) * 100).toFixed(2)},${(40 - (s[key] / top) * 40).toFixed(2)}`;
    box.querySelector('polyline').setAttribute('points', points.map(xy).join(' '));
    box.querySelector('.value').textContent = latest?.[key] == null ? '–' : format(latest[key]);
    box.querySelector('.max').textContent = points.length ? `scale 0–${top}` : '';
  }
  ui.chartFrom.replaceChildren(first ? timeOfDay(new Date(first.at), false) : '');
  ui.chartTo.replaceChildren(latest ? timeOfDay(new Date(latest.at), false) : '');
  ui.samples.replaceChildren(
    ...samples.map((s) => {
      const row = el('tr');
      Object.assign(row.dataset, { at: String(s.at), lastId: String(s.lastId), rate: String(s.rate ?? ''), subscribers: String(s.subscribers) });
      const time = el('td');
      time.append(timeOfDay(new Date(s.at)));
      row.append(time, el('td', '', String(s.lastId)), el('td', '', s.rate === null ? '–' : formatRate(s.rate)), el('td', '', String(s.subscribers)));
      return row;
    }),
  );
}

// ---------------------------------------------------------------- wiring

ui.subscribe.addEventListener('submit', (event) => {
  event.preventDefault();
  void connect();
});
$('disconnect').addEventListener('click', () => {
  if (watch) note('closed', 'disconnected');
  stop();
});
$('clear').addEventListener('click', () => ui.log.replaceChildren());
ui.names.addEventListener('change', listen);
ui.publish.addEventListener('submit', (event) => {
  event.preventDefault();
  void publish();
});
$('refresh').addEventListener('click', () => void refreshInfo());
ui.key.addEventListener('change', () => sessionStorage.setItem(STORED.key, ui.key.value));
ui.token.addEventListener('change', () => sessionStorage.setItem(STORED.token, ui.token.value));
// Back in view: a sample at once rather than at the next tick.
document.addEventListener('visibilitychange', () => void sample());
// A link with #channel=… opens that channel, also when pasted into an open console.
window.addEventListener('hashchange', () => {
  const channel = channelFromHash();
  if (channel && channel !== watch?.channel) {
    ui.channel.value = channel;
    void connect();
  }
});

ui.key.value = sessionStorage.getItem(STORED.key) ?? '';
ui.token.value = sessionStorage.getItem(STORED.token) ?? '';
const linked = channelFromHash();
ui.channel.value = linked ?? localStorage.getItem(STORED.channel) ?? '';
if (linked) void connect();
