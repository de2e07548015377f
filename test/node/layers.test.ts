// The layers (routes → domain → db/storage clients) are enforced by Biome's noRestrictedImports
// in biome.json. These tests lint deliberate violations with the project's own biome.json, so a
// rule that stopped matching (a renamed folder, a pattern Biome reads differently after an
// upgrade) fails here instead of letting a crossing in quietly.
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");
const BIOME = join(ROOT, "node_modules/.bin/biome");
const RULE = "lint/style/noRestrictedImports";

type Diagnostic = { category: string; message: string; location: { path: string } };

const workdirs: string[] = [];
afterAll(() => {
  for (const dir of workdirs) rmSync(dir, { recursive: true, force: true });
});

/**
 * Lints one file at `path` (as if it were in this repository) with the repository's biome.json,
 * in a scratch copy: the working tree is never touched.
 */
function lint(path: string, source: string): { status: number | null; diagnostics: Diagnostic[]; output: string } {
  const dir = mkdtempSync(join(tmpdir(), "layers-"));
  workdirs.push(dir);
  copyFileSync(join(ROOT, "biome.json"), join(dir, "biome.json"));
  mkdirSync(dirname(join(dir, path)), { recursive: true });
  writeFileSync(join(dir, path), source);
  // No VCS: the scratch directory is no git repository.
  const run = spawnSync(BIOME, ["lint", "--vcs-enabled=false", "--reporter=json", path], {
    cwd: dir,
    encoding: "utf8",
  });
  const report = JSON.parse(run.stdout) as { diagnostics: Diagnostic[] };
  return { status: run.status, diagnostics: report.diagnostics, output: run.stdout + run.stderr };
}

// Each file uses what it imports, so only the rule under test can complain.
const importing = (specifier: string) => `import * as imported from "${specifier}";\nexport const used = imported;\n`;

describe("routes may not reach the database", () => {
  it.each([
    ["src/routes/documents/x.handlers.ts", "drizzle-orm"],
    ["src/routes/documents/x.handlers.ts", "drizzle-orm/pg-core"],
    ["src/routes/documents/x.handlers.ts", "../../db/client"],
    ["src/routes/uploads/x.handlers.ts", "../../db/errors"],
    ["src/routes/health/x.handlers.ts", "../../db/schema"],
  ])("%s importing %s fails the lint", (path, specifier) => {
    const { status, diagnostics, output } = lint(path, importing(specifier));
    expect(status, output).not.toBe(0);
    expect(diagnostics.map((d) => d.category)).toEqual([RULE]);
    expect(diagnostics[0]?.message).toMatch(/Routes do not touch the database/);
  });

  it("a route importing a store and the HTTP problems passes", () => {
    const source = `${importing("../../documents/documents.store")}import { ApiError } from "../../lib/problem";\nexport const problem = ApiError;\n`;
    const { status, diagnostics, output } = lint("src/routes/documents/x.handlers.ts", source);
    expect(diagnostics).toEqual([]);
    expect(status, output).toBe(0);
  });
});

describe("the domain knows no HTTP", () => {
  it.each([
    ["src/documents/x.ts", "hono"],
    ["src/documents/x.ts", "hono/factory"],
    ["src/auth/x.ts", "hono/http-exception"],
    ["src/storage/x.ts", "@hono/zod-openapi"],
    ["src/health/x.ts", "hono"],
    ["src/documents/x.ts", "../lib/problem"],
    ["src/auth/x.ts", "../lib/problem"],
    ["src/documents/x.ts", "../routes/documents/etag"],
    ["src/auth/x.ts", "../middleware/require-auth"],
  ])("%s importing %s fails the lint", (path, specifier) => {
    const { status, diagnostics, output } = lint(path, importing(specifier));
    expect(status, output).not.toBe(0);
    expect(diagnostics.map((d) => d.category)).toEqual([RULE]);
    expect(diagnostics[0]?.message).toMatch(/The domain knows no HTTP/);
  });

  it("a store importing Failure, drizzle-orm and the db client passes", () => {
    const source = [
      `import { Failure } from "../lib/failure";`,
      `import { sql } from "drizzle-orm";`,
      `import type { Database } from "../db/client";`,
      "export const used = [Failure, sql];",
      "export type Db = Database;",
      "",
    ].join("\n");
    const { status, diagnostics, output } = lint("src/documents/x.store.ts", source);
    expect(diagnostics).toEqual([]);
    expect(status, output).toBe(0);
  });
});
