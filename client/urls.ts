/** The hub's endpoints (docs/api.md) under its base URL. */

/**
 * Resolves `path` under `base` as a directory, so a hub mounted under a prefix
 * (`https://example.com/herald`) keeps it.
 */
function under(base: string, path: string): URL {
  return new URL(path, base.endsWith('/') ? base : `${base}/`);
}

/** `GET|POST /v1/channels/{channel}/events`. The name is percent-encoded: a `/` in it reaches the hub as a bad name, not as another path. */
export function channelEventsUrl(base: string, channel: string): URL {
  return under(base, `v1/channels/${encodeURIComponent(channel)}/events`);
}

/** `GET /v1/events?channel=a&channel=b…`, the channels in the given order (the cursor's order). */
export function multiEventsUrl(base: string, channels: readonly string[]): URL {
  const url = under(base, 'v1/events');
  for (const channel of channels) url.searchParams.append('channel', channel);
  return url;
}
