// Copies the Swagger UI and ReDoc bundles from node_modules into .assets/ (git-ignored), which
// wrangler serves as Workers Static Assets under /assets. Run by `npm run assets`, before dev,
// test, bench and deploy.
import { cp, mkdir, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const root = fileURLToPath(new URL("..", import.meta.url));
const out = join(root, ".assets");

const swaggerDir = dirname(require.resolve("swagger-ui-dist/package.json"));
const redocDir = dirname(require.resolve("redoc/package.json"));

const files: [from: string, to: string][] = [
  [join(swaggerDir, "swagger-ui-bundle.js"), "assets/swagger-ui-dist/swagger-ui-bundle.js"],
  [join(swaggerDir, "swagger-ui.css"), "assets/swagger-ui-dist/swagger-ui.css"],
  [join(swaggerDir, "favicon-32x32.png"), "assets/swagger-ui-dist/favicon-32x32.png"],
  // Browsers ask every origin for /favicon.ico; a PNG under that name is fine for all of them.
  [join(swaggerDir, "favicon-32x32.png"), "favicon.ico"],
  [join(redocDir, "bundles", "redoc.standalone.js"), "assets/redoc/redoc.standalone.js"],
  // Our own start-up script for Swagger UI: no inline script on /docs (see its CSP).
  [join(root, "devstack", "docs-ui", "swagger-init.js"), "assets/swagger-init.js"],
];

// Static assets bypass the Worker's middleware, so their headers are declared here.
const HEADERS = `/assets/*
  X-Content-Type-Options: nosniff
  Cache-Control: public, max-age=86400
  Cross-Origin-Resource-Policy: same-origin
`;

await rm(out, { recursive: true, force: true });
for (const [from, to] of files) {
  await mkdir(dirname(join(out, to)), { recursive: true });
  await cp(from, join(out, to));
}
await writeFile(join(out, "_headers"), HEADERS);
console.log(`docs assets: ${files.length} files in .assets/`);
