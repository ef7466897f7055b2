/**
 * Every error Herald answers, as one table of codes and statuses (docs/api.md, "Errors").
 * Handlers throw {@link HubError}; the app's single `onError` turns it into
 * `{"error":{"code","message"}}`.
 */

const STATUS = {
  invalid_channel: 400,
  invalid_event: 400,
  invalid_data: 400,
  invalid_json: 400,
  invalid_payload: 400,
  invalid_limit: 400,
  invalid_last_event_id: 400,
  invalid_idempotency_key: 400,
  unauthorized: 401,
  invalid_token: 401,
  invalid_signature: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  payload_too_large: 413,
  idempotency_key_reused: 422,
  internal_error: 500,
  invalid_config: 500,
  auth_not_configured: 503,
  channel_full: 503,
  unavailable: 503,
} as const;

export type ErrorCode = keyof typeof STATUS;

/** What a 401 says to try when its thrower named no challenge (RFC 9110 §15.5.2: every 401 has one). */
const DEFAULT_CHALLENGE = 'Bearer realm="herald"';

/** The JSON error body of docs/api.md; `message` says what was wrong and how to fix it. */
export function errorResponse(code: ErrorCode, message: string, headers?: HeadersInit): Response {
  const res = Response.json({ error: { code, message } }, { status: STATUS[code], headers });
  if (res.status === 401 && !res.headers.has('WWW-Authenticate')) res.headers.set('WWW-Authenticate', DEFAULT_CHALLENGE);
  return res;
}

/** A failure that already knows its answer. Thrown by handlers, answered by `onError`. */
export class HubError extends Error {
  override name = 'HubError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }

  toResponse(): Response {
    return errorResponse(this.code, this.message, this.headers);
  }
}
