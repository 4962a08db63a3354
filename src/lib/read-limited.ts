/**
 * Reads a stream of at most `limit` bytes: `over` once more arrive (the stream is then cancelled),
 * the bytes when `keep` (the inbound mail, a DOCX part), only the count otherwise (a zip-bomb check).
 */
export async function readCapped(
  stream: ReadableStream<Uint8Array>,
  limit: number,
  keep = true,
): Promise<{ over: boolean; size: number; bytes?: Uint8Array }> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      return { over: true, size };
    }
    if (keep) chunks.push(value);
  }
  if (!keep) return { over: false, size };
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    bytes.set(c, offset);
    offset += c.byteLength;
  }
  return { over: false, size, bytes };
}

/** A stream's bytes, or null once more than `limit` arrive (the stream is then cancelled). */
export async function readLimited(stream: ReadableStream<Uint8Array>, limit: number): Promise<Uint8Array | null> {
  const read = await readCapped(stream, limit);
  return read.over ? null : (read.bytes ?? new Uint8Array());
}
