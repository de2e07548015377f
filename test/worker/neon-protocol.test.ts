// The local Neon HTTP endpoint, driven by the real @neondatabase/serverless client from inside
// workerd, exactly as the Worker drives Neon: values round-trip with their types, Postgres
// errors keep their code and constraint, and a batch is one transaction.
import { describe, expect, inject, it } from "vitest";
import { testSql } from "../support/stack";

const sql = testSql();

describe("type round-trips", () => {
  it("uuid, timestamptz, jsonb, bytea, arrays, numbers, booleans and NULL", async () => {
    const id = crypto.randomUUID();
    const when = new Date("2026-11-25T17:06:02.123Z");
    const doc = { title: "Ünïcödé ✓", nested: { n: [1, 2, 3] }, quote: `he said "hi" \\ bye` };
    const bytes = new Uint8Array([0, 1, 127, 128, 255]);
    const [row] = await sql`
      select ${id}::uuid as id, ${when}::timestamptz as at, ${JSON.stringify(doc)}::jsonb as doc,
             ${bytes}::bytea as bytes, ${["a", "b,c", 'd"e', null]}::text[] as texts,
             ${[1, 2, 3]}::int[] as ints, 9007199254740991::bigint as big, 1.5::float8 as f,
             true as yes, null::text as nothing, ''::text as empty`;
    if (!row) throw new Error("no row");
    expect(row.id).toBe(id);
    expect(row.at).toBeInstanceOf(Date);
    expect((row.at as Date).toISOString()).toBe(when.toISOString());
    expect(row.doc).toEqual(doc);
    expect(new Uint8Array(row.bytes as ArrayLike<number>)).toEqual(bytes);
    expect(row.texts).toEqual(["a", "b,c", 'd"e', null]);
    expect(row.ints).toEqual([1, 2, 3]);
    expect(row.big).toBe("9007199254740991");
    expect(row.f).toBe(1.5);
    expect(row.yes).toBe(true);
    expect(row.nothing).toBeNull();
    expect(row.empty).toBe("");
  });

  it("reports the command and row count with full results", async () => {
    const result = await sql.query("select generate_series(1, 3) as n", [], { fullResults: true });
    expect(result.command).toBe("SELECT");
    expect(result.rowCount).toBe(3);
    expect(result.fields.map((f) => f.name)).toEqual(["n"]);
    expect(result.rows).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
  });

  it("keeps parameters as data, never as SQL", async () => {
    const hostile = "'); drop table users; --";
    const [row] = await sql`select ${hostile}::text as v`;
    expect(row?.v).toBe(hostile);
    const [count] = await sql`select count(*)::int as n from pg_tables where tablename = 'users'`;
    expect(count?.n).toBe(1);
  });
});

describe("errors", () => {
  it("carry the SQLSTATE code", async () => {
    await expect(sql`select 1 / 0`).rejects.toMatchObject({ name: "NeonDbError", code: "22012" });
    await expect(sql`select * from no_such_table`).rejects.toMatchObject({ code: "42P01" });
  });

  it("carry the violated constraint", async () => {
    const email = `dup-${crypto.randomUUID()}@example.com`;
    await sql`insert into users (email, password_hash) values (${email}, 'x')`;
    await expect(
      sql`insert into users (email, password_hash) values (${email.toUpperCase()}, 'x')`,
    ).rejects.toMatchObject({ code: "23505", constraint: "users_email_lower_key" });
    await expect(sql`insert into users (email, password_hash) values ('ab', 'x')`).rejects.toMatchObject({
      code: "23514",
      constraint: "users_email_length",
    });
  });
});

describe("batches", () => {
  it("run as one transaction and return every result", async () => {
    const email = `batch-${crypto.randomUUID()}@example.com`;
    const [inserted, counted] = await sql.transaction([
      sql`insert into users (email, password_hash) values (${email}, 'x') returning email`,
      sql`select count(*)::int as n from users where email = ${email}`,
    ]);
    expect(inserted).toEqual([{ email }]);
    expect(counted).toEqual([{ n: 1 }]);
  });

  it("roll back as a whole when one statement fails", async () => {
    const email = `rollback-${crypto.randomUUID()}@example.com`;
    await expect(
      sql.transaction([
        sql`insert into users (email, password_hash) values (${email}, 'x')`,
        sql`insert into users (email, password_hash) values (${email}, 'x')`,
      ]),
    ).rejects.toMatchObject({ code: "23505" });
    const rows = await sql`select 1 from users where email = ${email}`;
    expect(rows).toEqual([]);
  });

  it("honour the isolation level and read-only options", async () => {
    const [[level], [readOnly]] = (await sql.transaction(
      [sql`show transaction_isolation`, sql`show transaction_read_only`],
      { isolationLevel: "Serializable", readOnly: true },
    )) as [[{ transaction_isolation: string }], [{ transaction_read_only: string }]];
    expect(level?.transaction_isolation).toBe("serializable");
    expect(readOnly?.transaction_read_only).toBe("on");
    await expect(
      sql.transaction([sql`insert into users (email, password_hash) values ('ro@example.com', 'x')`], {
        readOnly: true,
      }),
    ).rejects.toMatchObject({ code: "25006" });
  });
});

describe("engine", () => {
  it("is the one this run was configured for", async () => {
    const [row] = await sql`select version() as v`;
    expect(row?.v).toMatch(/PostgreSQL/);
    expect(["pglite", "postgres"]).toContain(inject("databaseEngine"));
  });
});
