// Who the benchmark calls as, and what it writes. Two caller types on every data set: a typical
// user (owns ~100 documents, is granted ~100: hundreds visible at every size) and a heavy one
// (the first of bench/seed.ts's HEAVY_USERS in `order by id`, granted HEAVY_SHARE of all
// documents: 120,000 visible at 1,000,000). Every document a run creates is titled with
// BENCH_TITLE and owned by the typical user, so that undoBenchWrites can remove all of it, with
// its versions, activity and storage count: the seeded database stays as seeded, and a rerun
// (or the next run after one that crashed) measures the same state.
import pg from "pg";
import { benchDatabaseUrl } from "./database.ts";
import { loginBenchUser } from "./harness.ts";
import { BENCH_EMAIL, HEAVY_USERS, type SeedSize } from "./seed.ts";

export type CallerKind = "typical" | "heavy";

export type Caller = {
  kind: CallerKind;
  email: string;
  userId: string;
  /** Documents the caller can read (owned or granted, not trashed). */
  visible: number;
};

export type LoggedInCaller = Caller & { auth: { authorization: string } };

/** The title prefix of every document a bench run creates (seeded titles never start with it). */
export const BENCH_TITLE = "bench run:";

const visibleCount = async (client: pg.Client, userId: string) =>
  (
    await client.query<{ n: number }>(
      `select ((select count(*) from documents where owner_id = $1 and deleted_at is null)
             + (select count(*) from document_permissions p join documents d on d.id = p.document_id
                where p.user_id = $1 and d.deleted_at is null))::int as n`,
      [userId],
    )
  ).rows[0]?.n as number;

/**
 * The typical caller (user500@bench.example, or the middle user of a smaller set; the next one
 * if that one is heavy) and the heavy caller of the seeded set `size`.
 */
export async function pickCallers(client: pg.Client, size: SeedSize): Promise<Record<CallerKind, Caller>> {
  const heavy = (
    await client.query<{ id: string; email: string }>(
      "select id, email from users where email like '%@bench.example' order by id limit $1",
      [HEAVY_USERS],
    )
  ).rows;
  const first = heavy[0];
  if (!first) throw new Error("the bench database has no bench users");
  const heavyEmails = new Set(heavy.map((h) => h.email));
  let n = size.users >= 500 ? 500 : Math.max(1, Math.ceil(size.users / 2));
  // The next user that is not heavy, wrapping past the last (the heavy ones are the first by id,
  // so on a small set they may be every user from n on).
  for (let tried = 0; tried < size.users && heavyEmails.has(BENCH_EMAIL(n)); tried++) n = (n % size.users) + 1;
  const typical = (await client.query<{ id: string }>("select id from users where email = $1", [BENCH_EMAIL(n)]))
    .rows[0];
  if (!typical) throw new Error(`no user ${BENCH_EMAIL(n)} in the bench database`);
  return {
    typical: {
      kind: "typical",
      email: BENCH_EMAIL(n),
      userId: typical.id,
      visible: await visibleCount(client, typical.id),
    },
    heavy: { kind: "heavy", email: first.email, userId: first.id, visible: await visibleCount(client, first.id) },
  };
}

export async function logIn(apiUrl: string, caller: Caller): Promise<LoggedInCaller> {
  const tokens = await loginBenchUser(apiUrl, caller.email);
  return { ...caller, auth: { authorization: `Bearer ${tokens.access_token}` } };
}

/** Uploads a small text document titled `${BENCH_TITLE} ${what}` as `caller`; returns its id. */
export async function uploadBenchDocument(apiUrl: string, caller: LoggedInCaller, what: string): Promise<string> {
  const form = new FormData();
  form.append("title", `${BENCH_TITLE} ${what}`);
  form.append("file", new File([`Benchmark fixture: ${what}.\n`], "bench.txt", { type: "text/plain" }));
  const res = await fetch(`${apiUrl}/api/v1/documents`, { method: "POST", headers: caller.auth, body: form });
  if (res.status !== 201) throw new Error(`bench upload answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { id: string }).id;
}

/** Puts `count` fresh documents of `caller` in the trash through the API (DELETE), so its trash list has rows. */
export async function fillTrash(apiUrl: string, caller: LoggedInCaller, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 1; i <= count; i++) {
    const id = await uploadBenchDocument(apiUrl, caller, `trashed ${i}`);
    const res = await fetch(`${apiUrl}/api/v1/documents/${id}`, { method: "DELETE", headers: caller.auth });
    if (res.status !== 204) throw new Error(`bench delete answered ${res.status}: ${await res.text()}`);
    ids.push(id);
  }
  return ids;
}

export type Undone = { documents: number; versions: number; activity: number; refreshTokens: number };

/**
 * Removes what bench runs wrote for `owners` (their documents titled BENCH_TITLE, with every row
 * that refers to them, and the bytes their versions added to the owner's storage count) and the
 * refresh tokens of `loggedIn` (the seed writes none; logins and the refresh scenario do), in one
 * transaction; then vacuums the tables touched, so the next run reads what a live database holds.
 */
export async function undoBenchWrites(client: pg.Client, owners: string[], loggedIn: string[]): Promise<Undone> {
  await client.query("begin");
  try {
    await client.query(
      `create temporary table bench_documents on commit drop as
       select id, owner_id from documents where owner_id = any($1::uuid[]) and title like $2`,
      [owners, `${BENCH_TITLE}%`],
    );
    const inBench = "(select id from bench_documents)";
    await client.query(
      `update users u set storage_used_bytes = greatest(0, u.storage_used_bytes - s.bytes)
       from (select b.owner_id, sum(v.size_bytes) as bytes from document_versions v
             join bench_documents b on b.id = v.document_id group by b.owner_id) s
       where u.id = s.owner_id`,
    );
    await client.query(
      `delete from change_audience a using activity_logs l
       where l.document_id in ${inBench} and a.xact_id = l.xact_id and a.seq = l.seq`,
    );
    const activity = await client.query(`delete from activity_logs where document_id in ${inBench}`);
    for (const table of ["share_links", "document_permissions", "document_tags", "uploads", "document_contents"]) {
      await client.query(`delete from ${table} where document_id in ${inBench}`);
    }
    const versions = await client.query(`delete from document_versions where document_id in ${inBench}`);
    const documents = await client.query(`delete from documents where id in ${inBench}`);
    const tokens = await client.query("delete from refresh_tokens where user_id = any($1::uuid[])", [loggedIn]);
    await client.query("commit");
    const undone = {
      documents: documents.rowCount ?? 0,
      versions: versions.rowCount ?? 0,
      activity: activity.rowCount ?? 0,
      refreshTokens: tokens.rowCount ?? 0,
    };
    if (undone.documents > 0) {
      await client.query(
        "vacuum documents, document_versions, document_contents, document_tags, activity_logs, change_audience, refresh_tokens, users",
      );
    } else if (undone.refreshTokens > 0) await client.query("vacuum refresh_tokens");
    return undone;
  } catch (error) {
    await client.query("rollback").catch(() => {});
    throw error;
  }
}

/**
 * What an earlier run left in the bench database of `size` (one stopped before its own cleanup,
 * e.g. by Ctrl-C), removed before this run measures it: the typical user's list would start with
 * its uploads. Null when there is no seeded database of that size yet.
 */
export async function undoEarlierRun(size: SeedSize): Promise<Undone | null> {
  const client = new pg.Client({ connectionString: benchDatabaseUrl(size) });
  try {
    await client.connect();
  } catch {
    return null; // no such database yet
  }
  try {
    const seeded = await client.query("select to_regclass('public.documents') is not null as ok");
    if (!seeded.rows[0]?.ok) return null;
    const callers = await pickCallers(client, size).catch(() => null);
    if (!callers) return null;
    return await undoBenchWrites(client, [callers.typical.userId], [callers.typical.userId, callers.heavy.userId]);
  } finally {
    await client.end();
  }
}
