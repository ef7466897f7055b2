/**
 * eventsource-parser 3's `createParser`, plus the one callback the client needs from
 * version 4: `onId`, the `id:` of every block, also of a block without data. The hub's
 * opening is such a block (`retry:`, `id:`, `: connected`): its `id:` sets the cursor
 * before any event (docs/api.md), so a subscriber cut off before its first event resumes
 * without a loss. Version 4 reports it itself, but declares Node ≥ 22.12, and this package
 * runs on Node 20 (package.json `engines`); version 3 drops an `id:` that comes with no data.
 *
 * So the stream is split into lines here, each line is fed to eventsource-parser as it
 * completes, and a block's `id:` is noted on the way: eventsource-parser still does the
 * rest of the parsing (data, event names, `retry:`, comments).
 */
import { createParser as createLineParser, type ParserCallbacks } from 'eventsource-parser';

export interface StreamParserCallbacks extends ParserCallbacks {
  /**
   * The last valid `id:` of a block, when its blank line ends it, whether or not the block
   * has data; before `onEvent` when it has (as eventsource-parser 4's `onId`). An empty
   * `id:` is `''`; an `id:` containing U+0000 is ignored (WHATWG HTML, "Interpreting an event stream").
   */
  onId?: ((id: string) => void) | undefined;
}

export interface StreamParser {
  /** The next piece of the stream's text, cut anywhere (mid-line, between a CR and its LF). */
  feed(chunk: string): void;
}

/**
 * Calls `onLine` with each complete line of text fed in arbitrary pieces, without its end.
 * A CR at the end of a piece ends its line; a LF that starts the next piece is then the
 * rest of that CRLF, not an empty line.
 */
export function splitLines(onLine: (line: string) => void): (chunk: string) => void {
  /** What ends a line in an event stream: CRLF, LF or CR. One per splitter, as it keeps its place. */
  const lineEnd = /\r\n|\r|\n/g;
  let partial = '';
  let afterCR = false;
  return (chunk) => {
    if (chunk === '') return;
    let start = afterCR && chunk.startsWith('\n') ? 1 : 0;
    afterCR = chunk.endsWith('\r');
    lineEnd.lastIndex = start;
    for (let end = lineEnd.exec(chunk); end !== null; end = lineEnd.exec(chunk)) {
      const line = partial + chunk.slice(start, end.index);
      partial = '';
      start = lineEnd.lastIndex;
      onLine(line);
    }
    partial += chunk.slice(start);
  };
}

/** The value of an `id` field line (`id: 7`, `id:7`, `id`), or undefined for another line and for an id the spec ignores. */
export function idField(line: string): string | undefined {
  if (!line.startsWith('id')) return undefined;
  const rest = line.slice(2);
  if (rest !== '' && !rest.startsWith(':')) return undefined;
  const value = rest.startsWith(': ') ? rest.slice(2) : rest.slice(1);
  return value.includes('\0') ? undefined : value;
}

/** eventsource-parser's `createParser`, with `onId` as version 4 has it (see above). */
export function createParser({ onId, onEvent, ...callbacks }: StreamParserCallbacks): StreamParser {
  /** The current block's id so far. */
  let blockId: string | undefined;
  /** Whether the blank line being fed dispatched an event. */
  let dispatched = false;
  const parser = createLineParser({
    ...callbacks,
    onEvent: (message) => {
      dispatched = true;
      if (blockId !== undefined) onId?.(blockId);
      onEvent?.(message);
    },
  });
  const feed = splitLines((line) => {
    if (line !== '') {
      blockId = idField(line) ?? blockId;
      parser.feed(`${line}\n`);
      return;
    }
    dispatched = false;
    parser.feed('\n');
    const id = blockId;
    blockId = undefined;
    if (!dispatched && id !== undefined) onId?.(id);
  });
  let started = false;
  return {
    feed(chunk) {
      if (chunk === '') return;
      // One byte order mark at the very start is no part of the stream (TextDecoder drops it already, by default).
      if (!started && chunk.startsWith('\uFEFF')) chunk = chunk.slice(1);
      started = true;
      feed(chunk);
    },
  };
}
