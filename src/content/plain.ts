// Plain text, Markdown, CSV and JSON: the bytes decoded as UTF-8 (as stored text types are), read
// as a stream and cancelled as soon as the text is full, so a large file is never held.
import type { TextCollector } from "./collector";

export async function extractPlain(body: ReadableStream<Uint8Array>, out: TextCollector): Promise<void> {
  const decoder = new TextDecoder("utf-8");
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      out.add(decoder.decode(value, { stream: true }));
      if (out.full) return;
    }
    out.add(decoder.decode());
  } finally {
    await reader.cancel().catch(() => {});
  }
}
