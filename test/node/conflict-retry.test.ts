// The database client sends a request again when PostgreSQL rolled its transaction back for a
// deadlock or a serialization failure, and only then (src/db/conflict-retry.ts). The race itself
// is in test/worker/account-closure.test.ts, on real PostgreSQL.
import { describe, expect, it } from "vitest";
import { CONFLICT_ATTEMPTS, retryingConflicts } from "../../src/db/conflict-retry";

const answer = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

function endpoint(answers: Response[]) {
  const bodies: unknown[] = [];
  const send = async (_input: string, init: RequestInit) => {
    bodies.push(init.body);
    const next = answers.shift();
    if (!next) throw new Error("no more answers");
    return next;
  };
  return { send, bodies };
}

const request = { method: "POST", body: JSON.stringify({ query: "update users set …", params: [] }) };

describe("retryingConflicts", () => {
  it("sends a deadlock's or a serialization failure's victim again, with the same body", async () => {
    const { send, bodies } = endpoint([
      answer(400, { message: "deadlock detected", code: "40P01" }),
      answer(400, { message: "could not serialize access", code: "40001" }),
      answer(200, { rows: [] }),
    ]);
    const res = await retryingConflicts(send)("https://db.example/sql", request);
    expect(res.status).toBe(200);
    expect(bodies).toEqual([request.body, request.body, request.body]);
  });

  it("answers any other error at once", async () => {
    for (const code of ["23505", "22021", "42P01"]) {
      const { send, bodies } = endpoint([answer(400, { message: "no", code }), answer(200, {})]);
      const res = await retryingConflicts(send)("https://db.example/sql", request);
      expect(res.status, code).toBe(400);
      expect(((await res.json()) as { code: string }).code).toBe(code);
      expect(bodies).toHaveLength(1);
    }
    const { send, bodies } = endpoint([answer(503, { message: "down" }), answer(200, {})]);
    expect((await retryingConflicts(send)("https://db.example/sql", request)).status).toBe(503);
    expect(bodies).toHaveLength(1);
  });

  it(`gives up after ${CONFLICT_ATTEMPTS} attempts, answering the last conflict`, async () => {
    const { send, bodies } = endpoint(
      Array.from({ length: CONFLICT_ATTEMPTS + 1 }, () => answer(400, { message: "deadlock detected", code: "40P01" })),
    );
    const res = await retryingConflicts(send)("https://db.example/sql", request);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { code: string }).code).toBe("40P01");
    expect(bodies).toHaveLength(CONFLICT_ATTEMPTS);
  });
});
