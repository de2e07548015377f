// The floor under the upload-memory scenario: a Worker that reads a request body the way the
// service reads a file's bytes (a BYOB reader, `readAtLeast` 256 KiB into one buffer reused for
// the whole body) and does nothing else: no parsing, no hashing, no storage. What workerd's peak
// memory grows by here is workerd's own cost of receiving the bytes, which no service code can
// lower (bench/upload-memory.ts, "body read floor").
const READ_BYTES = 256 * 1024;

export default {
  async fetch(request: Request): Promise<Response> {
    if (!request.body) return Response.json({ bytes: 0 });
    const reader = request.body.getReader({ mode: "byob" });
    let buffer = new ArrayBuffer(READ_BYTES);
    let bytes = 0;
    for (;;) {
      const { done, value } = await reader.readAtLeast(READ_BYTES, new Uint8Array(buffer));
      if (value) {
        bytes += value.byteLength;
        buffer = value.buffer as ArrayBuffer;
      }
      if (done || !value || value.byteLength < READ_BYTES) break;
    }
    // A short read is the body's end; make sure of it, so the count is the whole body.
    const rest = await reader.read(new Uint8Array(buffer));
    if (!rest.done) return Response.json({ error: "body continued after a short read" }, { status: 500 });
    return Response.json({ bytes });
  },
};
