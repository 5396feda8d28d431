/**
 * Splits items, in order, into chunks of at most `maxCount` items whose sizes add up to at most
 * `maxBytes` (counting `overheadBytes` once per chunk). An item larger than the byte budget on its
 * own goes alone: whether it may be written at all is the caller's check.
 */
export function chunkBySize<T>(items: readonly T[], sizeOf: (item: T) => number, limits: { maxCount: number; maxBytes: number; overheadBytes?: number }): T[][] {
  const overhead = limits.overheadBytes ?? 0;
  const chunks: T[][] = [];
  let chunk: T[] = [];
  let bytes = overhead;
  for (const item of items) {
    const size = sizeOf(item);
    if (chunk.length > 0 && (chunk.length >= limits.maxCount || bytes + size > limits.maxBytes)) {
      chunks.push(chunk);
      chunk = [];
      bytes = overhead;
    }
    chunk.push(item);
    bytes += size;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}
