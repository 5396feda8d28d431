/** The start of a body read up to a byte limit; `complete` is false when the body went on past it. */
export interface LimitedText {
  text: string;
  complete: boolean;
}

/**
 * Reads a response body as UTF-8 text, keeping at most `maxBytes` of it in memory: past the
 * limit it stops and cancels the rest (which closes the connection rather than draining it).
 * Memory stays bounded whatever the provider sends, declared length or not.
 */
export async function readLimitedText(response: Response, maxBytes: number): Promise<LimitedText> {
  if (response.body === null) return { text: '', complete: true };
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let complete = true;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (size + value.byteLength > maxBytes) {
      chunks.push(value.subarray(0, maxBytes - size));
      size = maxBytes;
      complete = false;
      await reader.cancel().catch(() => undefined);
      break;
    }
    chunks.push(value);
    size += value.byteLength;
  }
  return { text: new TextDecoder().decode(Buffer.concat(chunks, size)), complete };
}

/** Drops a body unread (a redirect's, a refused one's), so that its connection is not left waiting. */
export async function discardBody(response: Response): Promise<void> {
  await response.body?.cancel().catch(() => undefined);
}
