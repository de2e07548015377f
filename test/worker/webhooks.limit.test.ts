// The cap on webhooks per account (WEBHOOKS_PER_USER): one more is 409 webhook_limit_reached and
// stores nothing; deleting one frees its place; concurrent creations never pass the cap (on the
// PostgreSQL pass they run at once through the local endpoint); the counter follows every insert
// and delete. Requests run through worker.fetch with a small cap.
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { newUser } from "../support/auth";
import { testSql } from "../support/stack";
import { receiverUrl, WEBHOOKS } from "../support/webhooks";

const sql = testSql();
type User = Awaited<ReturnType<typeof newUser>>;

async function call(user: User, method: string, url: string, limit: string, body?: unknown) {
  const ctx = createExecutionContext();
  const res = await worker.fetch(
    new Request(url, {
      method,
      headers: { ...user.auth, "Content-Type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    }),
    { ...env, WEBHOOKS_PER_USER: limit } as Env,
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return res;
}

const create = (user: User, limit: string, body: Record<string, unknown> = {}) =>
  call(user, "POST", WEBHOOKS, limit, { url: receiverUrl("ok").url, ...body });

async function counted(user: User) {
  const [row] =
    await sql`select webhook_count as counter, (select count(*) from webhooks where owner_id = ${user.id})::int as rows
    from users where id = ${user.id}`;
  return row as { counter: number; rows: number };
}

describe("webhooks per account", () => {
  it("refuses one more than WEBHOOKS_PER_USER with 409 webhook_limit_reached, storing nothing; a deletion frees a place", async () => {
    const user = await newUser("hook-limit");
    const made: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await create(user, "3");
      expect(res.status).toBe(201);
      made.push(((await res.json()) as { id: string }).id);
    }
    const over = await create(user, "3");
    expect(over.status).toBe(409);
    expect(over.headers.get("content-type")).toBe("application/problem+json");
    const problem = (await over.json()) as { code: string; detail: string };
    expect(problem.code).toBe("webhook_limit_reached");
    expect(problem.detail).toContain("3 webhooks");
    expect(await counted(user)).toEqual({ counter: 3, rows: 3 });
    // A document the caller cannot read is still 404, at the limit or not.
    const unknown = await create(user, "3", { document_id: crypto.randomUUID() });
    expect(unknown.status).toBe(404);
    // A higher limit lets it through; deleting one frees a place under the old one.
    expect((await call(user, "DELETE", `${WEBHOOKS}/${made[0]}`, "3")).status).toBe(204);
    expect(await counted(user)).toEqual({ counter: 2, rows: 2 });
    expect((await create(user, "3")).status).toBe(201);
    expect((await create(user, "3")).status).toBe(409);
    expect((await create(user, "4")).status).toBe(201);
    expect(await counted(user)).toEqual({ counter: 4, rows: 4 });
  });

  it("lets exactly WEBHOOKS_PER_USER of many concurrent creations through", async () => {
    const user = await newUser("hook-race");
    const answers = await Promise.all(Array.from({ length: 12 }, () => create(user, "5")));
    const statuses = answers.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 201)).toHaveLength(5);
    expect(statuses.filter((s) => s === 409)).toHaveLength(7);
    expect(await counted(user)).toEqual({ counter: 5, rows: 5 });
    const list = await call(user, "GET", `${WEBHOOKS}?limit=100`, "5");
    expect(((await list.json()) as { total: number }).total).toBe(5);
  });

  it("keeps the counter on any delete, not only through the API", async () => {
    const user = await newUser("hook-counter");
    for (let i = 0; i < 2; i++) expect((await create(user, "10")).status).toBe(201);
    await sql`delete from webhooks where owner_id = ${user.id}`;
    expect(await counted(user)).toEqual({ counter: 0, rows: 0 });
  });
});
