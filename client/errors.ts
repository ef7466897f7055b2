/**
 * The hub's error answers (docs/api.md, "Errors": `{"error":{"code","message"}}`) as a typed
 * error, and which statuses are worth trying again.
 */

/** An error answer from the hub, or a response that breaks its contract. */
export class HeraldError extends Error {
  override name = 'HeraldError';
  /** The HTTP status of the response (200 for a stream that breaks the contract). */
  readonly status: number;
  /**
   * The hub's code (`invalid_channel`, `unauthorized`, `channel_full`…); `http_<status>`
   * when the body is not the hub's JSON (a proxy's page); `invalid_stream` or
   * `invalid_response` when a successful answer is not what the contract says.
   */
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null;

/** Longest piece of a foreign (non-JSON) body quoted in a message. */
const QUOTE_CHARS = 200;

/** The HeraldError that a response with this status and body text stands for. */
export function parseError(status: number, body: string): HeraldError {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    parsed = undefined;
  }
  const error = isRecord(parsed) ? parsed.error : undefined;
  if (isRecord(error) && typeof error.code === 'string' && typeof error.message === 'string') {
    return new HeraldError(status, error.code, error.message);
  }
  const quote = body.trim().slice(0, QUOTE_CHARS);
  return new HeraldError(status, `http_${status}`, `The hub answered ${status}${quote ? `: ${quote}` : ' with no body'}.`);
}

/** Reads an error response's body into a HeraldError; a body that cannot be read counts as empty. */
export async function readError(res: Response): Promise<HeraldError> {
  const body = await res.text().catch(() => '');
  return parseError(res.status, body);
}

/**
 * 5xx may pass (the hub restarting, `503 channel_full`, `unavailable`); 408 and 429 ask
 * the client to come back later (RFC 9110 §15.5.9, RFC 6585 §4), e.g. from a rate
 * limiter in front of the hub. Any other 4xx would get the same answer again.
 */
export function isRetryableStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

/**
 * `Retry-After` in milliseconds. The hub sends whole seconds; the HTTP-date form is not
 * read (undefined), so the usual backoff applies.
 */
export function retryAfterMs(header: string | null): number | undefined {
  return header !== null && /^\d+$/.test(header.trim()) ? Number(header.trim()) * 1000 : undefined;
}

/** Whatever was thrown, as an Error (a callback may throw a string). */
export function asError(thrown: unknown): Error {
  return thrown instanceof Error ? thrown : new Error(String(thrown));
}
