// Every variable the Worker reads is listed in .dev.vars.example (which `npm run dev` also uses to
// know which variables of its environment to pass on) and in the README's configuration table.
import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { ConfigSchema } from "../../src/config";

const read = (path: string) => readFile(new URL(`../../${path}`, import.meta.url), "utf8");

describe("configuration variables", () => {
  it("are all in .dev.vars.example and in the README's table, and no others", async () => {
    const names = Object.keys(ConfigSchema.shape).sort();
    const example = [...(await read(".dev.vars.example")).matchAll(/^([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]);
    expect(example.sort()).toEqual(names);
    const readme = await read("README.md");
    const table = [...readme.matchAll(/^\| `([A-Z][A-Z0-9_]*)` \| (?:var|secret) \|/gm)].map((m) => m[1]);
    expect(table.sort()).toEqual(names);
  });
});
