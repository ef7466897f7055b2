/** The one platform call the client makes, as a type a test or a custom transport can supply. */

/** What the client passes to fetch. */
export interface FetchInit {
  method?: string;
  headers: Headers;
  body?: string;
  signal: AbortSignal;
}

/** `globalThis.fetch` fits, and so does anything that answers a request with a web Response. */
export type Fetch = (url: string, init: FetchInit) => Promise<Response>;

/**
 * The platform's fetch, called as a plain function: a browser's `fetch` called as the
 * method of another object throws "Illegal invocation".
 */
export const platformFetch: Fetch = (url, init) => fetch(url, init);
