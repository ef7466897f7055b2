/** Socket calls that never throw: a socket that is closing or closed is simply let go. */

/** False when the socket can no longer take messages (closing or closed). */
export function sendQuietly(ws: WebSocket, message: ArrayBuffer | string): boolean {
  try {
    ws.send(message);
    return true;
  } catch {
    return false;
  }
}

export function closeQuietly(ws: WebSocket, code: number, reason: string): void {
  try {
    ws.close(code, reason);
  } catch {
    // Already closed.
  }
}
