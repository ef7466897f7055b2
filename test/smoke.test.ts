import { exports } from 'cloudflare:workers';
import { expect, it } from 'vitest';

it('smoke', async () => {
  const ch = crypto.randomUUID();
  const pub = await exports.default.fetch(`http://hub/v1/channels/${ch}/events`, { method: 'POST', headers: { Authorization: 'Bearer herald-dev-key' }, body: 'hello\nworld' });
  console.log(pub.status, await pub.text());
  const sub = await exports.default.fetch(`http://hub/v1/channels/${ch}/events?lastEventId=0`);
  console.log(sub.status, [...sub.headers]);
  const reader = sub.body!.getReader();
  const dec = new TextDecoder();
  let text = '';
  while (!text.includes('world\n\n')) { const { value } = await reader.read(); text += dec.decode(value); }
  console.log(JSON.stringify(text));
  await reader.cancel();
  expect(text).toContain('id: 1');
});
