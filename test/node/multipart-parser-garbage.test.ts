// busboy's boundary search (streamsearch) started each pass over a chunk at `-lookbehindSize`,
// which is -0 when nothing is looked behind: not a small integer, so the search position became a
// heap number, and every step of the loop made a new one wherever the loop ran unoptimised. In
// workerd, where the function is deoptimised and re-tiered a few times per upload, that was 35 to
// 104 MiB of V8 garbage per 90 MiB upload (sampled with the inspector's heap profiler), 3 MiB
// once patched (patches/streamsearch+1.1.0.patch, applied by `npm ci`'s postinstall).
// V8's interpreter (--jitless) always boxes, so there the difference is deterministic: a 32 MiB
// file costs dozens of scavenges unpatched (138 for 90 MiB, measured) and about none patched.
// This fails if the patch stops applying (a busboy or streamsearch upgrade) or is dropped.
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../..", import.meta.url));

/** Parses a 32 MiB file part with busboy in 256 KiB chunks (as the service feeds it) and prints the number of GCs. */
const script = `
const busboy = require("busboy");
const { PerformanceObserver } = require("node:perf_hooks");
let collections = 0;
new PerformanceObserver((list) => { collections += list.getEntries().length; }).observe({ entryTypes: ["gc"] });
const boundary = "----docvaultparser";
const parser = busboy({ headers: { "content-type": "multipart/form-data; boundary=" + boundary } });
let received = 0;
parser.on("file", (name, stream) => stream.on("data", (chunk) => { received += chunk.length; }));
const chunk = Buffer.alloc(256 * 1024, 0x61);
const write = (buffer) => new Promise((resolve) => parser.write(buffer, resolve));
(async () => {
  await write(Buffer.from("--" + boundary + '\\r\\nContent-Disposition: form-data; name="file"; filename="a.bin"\\r\\n\\r\\n'));
  for (let i = 0; i < 128; i++) await write(chunk);
  await write(Buffer.from("\\r\\n--" + boundary + "--\\r\\n"));
  setTimeout(() => console.log(JSON.stringify({ received, collections })), 20);
})();
`;

describe("the multipart parser", () => {
  it("makes no garbage per byte of a file while it searches for the boundary", () => {
    const out = execFileSync(process.execPath, ["--jitless", "--max-semi-space-size=1", "-e", script], {
      cwd: root,
      encoding: "utf8",
    });
    const { received, collections } = JSON.parse(out.trim()) as { received: number; collections: number };
    expect(received).toBe(32 * 1024 * 1024);
    // Unpatched: one 16-byte heap number per step of the search, ~1.4 M steps, a scavenge per MiB.
    expect(collections).toBeLessThanOrEqual(5);
  });
});
