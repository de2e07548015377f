// The code that deploys is `wrangler deploy`'s bundle, minified (wrangler.toml), not the code the
// worker tests run (the Workers Vitest plugin bundles without minifying). This runs the dry run's
// own output in workerd on a local stack: its size against the 1 MiB budget, the OpenAPI document
// against an unminified bundle's, and the paths that lean on libraries a minifier could break
// (pdf.js, the ZIP and XML extractors, HTML entities, zod, Drizzle, jose): a login, uploads of a
// PDF, a DOCX and an HTML file, their extraction through the service's own queue() handler, the
// indexed text and a search's highlight.
import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleWorker, ROOT, startWorker } from "../../bench/harness.ts";
import { startUploadService, type UploadService } from "../../bench/upload-memory.ts";
import { docxWithText } from "../support/office.ts";
import { textPdf } from "../support/pdf.ts";

const MiB = 1024 * 1024;

// The dry run's module, wrapped so that a request can hand the service's queue() handler a batch
// of content messages (workerd here has no queue), built as the bench's consumer builds them.
const WRAPPER = `
import service from "./index.js";
import { messageBatch } from ${JSON.stringify(join(ROOT, "bench/queue-batch.ts"))};
export default {
  async fetch(request, env, ctx) {
    if (new URL(request.url).pathname !== "/__content-queue") return service.fetch(request, env, ctx);
    const { batch, outcome } = messageBatch("docvault-content", await request.json());
    await service.queue(batch, env, ctx);
    return Response.json(outcome);
  },
};
`;

describe("the deploy bundle (wrangler deploy --dry-run, minified)", () => {
  let dir: string;
  let dist: string;
  let service: UploadService | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "docvault-deploy-bundle-"));
    dist = join(dir, "dist");
    // `npm test` builds .assets first (pretest), which the dry run needs.
    execFileSync(join(ROOT, "node_modules/.bin/wrangler"), ["deploy", "--dry-run", "--outdir", dist], {
      cwd: ROOT,
      stdio: "pipe",
      env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
    });
  });

  afterAll(async () => {
    await service?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("is minified, under 1 MiB gzipped, with its source map", async () => {
    const script = await readFile(join(dist, "index.js"));
    const gzipped = gzipSync(script).byteLength;
    console.log(
      `deploy bundle: ${(script.byteLength / 1024).toFixed(0)} KiB, ${(gzipped / 1024).toFixed(0)} KiB gzipped`,
    );
    expect(gzipped).toBeLessThan(MiB);
    // Unminified, the bundle is over 4 MiB and every line of the service's source keeps its
    // indentation; minified, it is a few long lines.
    expect(script.byteLength).toBeLessThan(3.5 * MiB);
    expect(script.toString("utf8").split("\n").length).toBeLessThan(2_000);
    const map = JSON.parse(await readFile(join(dist, "index.js.map"), "utf8")) as { sources: string[] };
    expect(map.sources.some((source) => source.endsWith("src/index.ts"))).toBe(true);
  });

  it("serves the API, extracts PDF, DOCX and HTML text and highlights a search, as the tested code does", async () => {
    await writeFile(join(dist, "wrapper.js"), WRAPPER);
    const script = await bundleWorker(join(dist, "wrapper.js"), dir, { minify: false });
    // HTML is refused unless allowed (it could be served as a page); the extractor reads it.
    service = await startUploadService({
      script,
      vars: {
        ALLOWED_CONTENT_TYPES:
          "application/pdf,text/html,application/vnd.openxmlformats-officedocument.wordprocessingml.document",
      },
    });
    const api = `${service.worker.url}/api/v1`;
    const auth = { authorization: `Bearer ${service.token}` };

    // The OpenAPI document is built from the zod schemas at run time: minified, it is the same.
    const plain = await startWorker(await bundleWorker("src/index.ts", join(dir, "plain"), { minify: false }), {
      ...service.bindings,
    });
    try {
      // Each names its own origin in `servers`; everything else must be the same, byte for byte.
      const [minified, unminified] = await Promise.all(
        [service.worker.url, plain.url].map(async (url) => {
          const doc = (await (await fetch(`${url}/openapi.json`)).json()) as Record<string, unknown>;
          expect(doc.servers).toEqual([{ url, description: "This deployment" }]);
          return JSON.stringify({ ...doc, servers: undefined });
        }),
      );
      expect(JSON.parse(minified ?? "{}").paths).toHaveProperty(["/api/v1/documents/{id}/content"]);
      expect(minified).toBe(unminified);
    } finally {
      await plain.dispose();
    }

    const files = [
      {
        name: "q3.pdf",
        bytes: textPdf([["Quarterly turbine inspection"], ["Blade erosion found"]]),
        words: ["turbine", "erosion"],
      },
      { name: "memo.docx", bytes: await docxWithText(["Harbour dredging schedule"]), words: ["dredging"] },
      {
        name: "page.html",
        bytes: new TextEncoder().encode(
          "<html><head><style>.x{}</style><script>var hidden = 1</script></head><body><p>Caf&eacute; glacier survey &amp; more</p></body></html>",
        ),
        words: ["Café", "glacier"],
      },
    ];
    const ids: string[] = [];
    for (const file of files) {
      const form = new FormData();
      form.append("file", new File([file.bytes], file.name));
      form.append("title", file.name);
      const res = await fetch(`${api}/documents`, { method: "POST", headers: auth, body: form });
      expect(res.status, await res.clone().text()).toBe(201);
      const doc = (await res.json()) as { id: string; content_status: string };
      expect(doc.content_status).toBe("pending");
      ids.push(doc.id);
    }

    const queued = await fetch(`${service.worker.url}/__content-queue`, {
      method: "POST",
      body: JSON.stringify(ids.map((document_id) => ({ document_id, version_number: 1 }))),
    });
    expect(await queued.json()).toEqual({ acked: 3, retried: 0 });

    for (const [i, file] of files.entries()) {
      const doc = (await (await fetch(`${api}/documents/${ids[i]}`, { headers: auth })).json()) as {
        content_status: string;
      };
      expect(doc.content_status, file.name).toBe("indexed");
      const text = await (await fetch(`${api}/documents/${ids[i]}/content`, { headers: auth })).text();
      for (const word of file.words) expect(text, file.name).toContain(word);
    }
    const html = await (await fetch(`${api}/documents/${ids[2]}/content`, { headers: auth })).text();
    expect(html).not.toContain("hidden");

    const search = await fetch(`${api}/documents?q=${encodeURIComponent("blade erosion")}`, { headers: auth });
    const page = (await search.json()) as { total: number; items: { id: string; highlight: string }[] };
    expect(page.total).toBe(1);
    expect(page.items[0]?.id).toBe(ids[0]);
    expect(page.items[0]?.highlight).toContain("<mark>erosion</mark>");
  });
});
