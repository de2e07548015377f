// reusedStatement (src/db/reused-statement.ts) builds a statement's SQL text once and then only
// fills its values in. The database behind it is covered by the document tests (get document and
// every role check run through it); here, what it sends: one build, the same text every time,
// each call's own values at every place a name appears, and the options db.execute would use.
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import type { Database } from "../../src/db/client";
import { reusedStatement } from "../../src/db/reused-statement";

function recordingDatabase() {
  const sent: { text: string; params: unknown[]; options: unknown }[] = [];
  const db = {
    $client: {
      query: async (text: string, params: unknown[], options: unknown) => {
        sent.push({ text, params, options });
        return { rows: [{ echoed: params }], rowCount: 1 };
      },
    },
  } as unknown as Database;
  return { db, sent };
}

describe("reusedStatement", () => {
  it("builds the text once and fills each call's values wherever a name appears", async () => {
    let builds = 0;
    const statement = reusedStatement(["id", "userId"], ({ id, userId }) => {
      builds += 1;
      return sql`select ${id}::uuid as id where ${userId}::uuid = ${userId}::uuid and ${"OWNER"} <> ''`;
    });
    const { db, sent } = recordingDatabase();
    const first = await statement<{ echoed: unknown[] }>(db, { id: "a", userId: "u1" });
    await statement(db, { id: "b", userId: "u2" });
    expect(builds).toBe(1);
    expect(sent[0]?.text).toBe("select $1::uuid as id where $2::uuid = $3::uuid and $4 <> ''");
    expect(sent[1]?.text).toBe(sent[0]?.text);
    expect(sent.map((request) => request.params)).toEqual([
      ["a", "u1", "u1", "OWNER"],
      ["b", "u2", "u2", "OWNER"],
    ]);
    expect(sent[0]?.options).toEqual({ arrayMode: false, fullResults: true });
    expect(first.rows).toEqual([{ echoed: ["a", "u1", "u1", "OWNER"] }]);
  });

  it("refuses a call without one of its values rather than sending a partial statement", async () => {
    const statement = reusedStatement(["id"], ({ id }) => sql`select ${id}::uuid`);
    const { db, sent } = recordingDatabase();
    await expect(statement(db, {} as { id: string })).rejects.toThrow(/id/);
    expect(sent).toHaveLength(0);
  });
});
