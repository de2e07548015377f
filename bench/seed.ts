// Seeds a realistic data set straight into PostgreSQL, for `npm run bench` and the list-query
// plans: USERS users (default 1,000), DOCS documents (default 100,000) with 1–3 versions each,
// 0–4 tags from a 40-word vocabulary, English titles and descriptions, and about one share per
// document. Generated in SQL (generate_series), so 100,000 documents take seconds, not minutes.
// Every bench user's password is BENCH_PASSWORD, hashed with BENCH_PEPPER.
import type pg from "pg";
// The service's own hashing (node:crypto runs the same in Node), so seeded hashes are exactly what
// a registration would store and a login verifies them as it would any other.
import { hashPassword } from "../src/auth/password";

export const BENCH_PASSWORD = "benchmark password 2026";
// Bench-only (openssl rand -base64 32): the Worker refuses typed-in secrets.
export const BENCH_PEPPER = "0TV3jjeNp5jTKkNxX65pxoyEeuNOycexA4/9wrZmXAA=";
export const BENCH_EMAIL = (n: number) => `user${n}@bench.example`;

const WORDS = [
  "budget",
  "roadmap",
  "invoice",
  "contract",
  "meeting",
  "minutes",
  "report",
  "quarterly",
  "annual",
  "design",
  "proposal",
  "research",
  "summary",
  "policy",
  "security",
  "audit",
  "finance",
  "marketing",
  "sales",
  "hiring",
  "onboarding",
  "strategy",
  "review",
  "planning",
  "release",
  "incident",
  "postmortem",
  "customer",
  "partner",
  "legal",
  "spending",
  "forecast",
  "inventory",
  "training",
  "compliance",
  "architecture",
  "database",
  "network",
  "mobile",
  "cloud",
];

export type SeedSize = { users: number; documents: number };

export async function seed(client: pg.Client, size: SeedSize, log: (line: string) => void = console.log) {
  const words = `array[${WORDS.map((w) => `'${w}'`).join(",")}]`;
  const word = (salt: string) => `(${words})[1 + (abs(hashtext(g::text || '${salt}')) % ${WORDS.length})]`;
  const started = Date.now();
  const step = async (label: string, statement: string, params: unknown[] = []) => {
    const t = Date.now();
    const result = await client.query(statement, params);
    log(`  ${label}: ${result.rowCount ?? 0} rows in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  };

  log(`seeding ${size.users} users and ${size.documents} documents`);
  await step(
    "users",
    `insert into users (email, full_name, password_hash)
     select 'user' || g || '@bench.example', 'Bench User ' || g, $1 from generate_series(1, $2::int) g`,
    [await hashPassword(BENCH_PASSWORD, BENCH_PEPPER), size.users],
  );
  await step(
    "documents",
    `with u as (select id, row_number() over (order by id) as n from users where email like '%@bench.example')
     insert into documents (id, owner_id, title, description, current_version, created_at, updated_at, search_vector)
     select gen_random_uuid(), u.id,
            initcap(${word("a")}) || ' ' || ${word("b")} || ' ' || g,
            'Notes about ' || ${word("c")} || ' and ' || ${word("d")} || ' for the ' || ${word("e")} || ' team',
            1 + abs(hashtext(g::text || 'v')) % 3,
            now() - (abs(hashtext(g::text || 't')) % (730 * 86400)) * interval '1 second',
            now() - (abs(hashtext(g::text || 'u')) % (30 * 86400)) * interval '1 second',
            ''::tsvector
     from generate_series(1, $1::int) g join u on u.n = 1 + g % $2::int`,
    [size.documents, size.users],
  );
  await step(
    "versions",
    `insert into document_versions (document_id, version_number, storage_key, file_name, content_type, size_bytes, sha256, created_by, created_at)
     select d.id, n, 'documents/' || d.id || '/' || gen_random_uuid(), 'file-' || n || '.pdf',
            case when abs(hashtext(d.id::text)) % 5 = 0 then 'image/png' else 'application/pdf' end,
            1000 + abs(hashtext(d.id::text || n)) % 5000000, encode(sha256((d.id::text || n)::bytea), 'hex'),
            d.owner_id, d.created_at + n * interval '1 hour'
     from documents d cross join lateral generate_series(1, d.current_version) n`,
  );
  await step(
    "tags",
    `insert into document_tags (document_id, tag)
     select distinct d.id, (${words})[1 + abs(hashtext(d.id::text || k)) % ${WORDS.length}]
     from documents d cross join lateral generate_series(1, abs(hashtext(d.id::text)) % 5) k`,
  );
  await step(
    "search vectors",
    `update documents d set search_vector =
       setweight(to_tsvector('english', d.title), 'A')
       || setweight(to_tsvector('english', coalesce((select string_agg(tag, ' ') from document_tags t where t.document_id = d.id), '')), 'B')
       || setweight(to_tsvector('english', coalesce(d.description, '')), 'C')`,
  );
  await step(
    "shares",
    `with u as (select id, row_number() over (order by id) as n from users where email like '%@bench.example'),
          picks as (
            select d.id as document_id, d.owner_id, 1 + abs(hashtext(d.id::text || k)) % $1::int as n,
                   -- any grantable role, as the database's enum lists them
                   (enum_range(null::permission_role))[1 + abs(hashtext(d.id::text || k || 'r')) % cardinality(enum_range(null::permission_role))] as role
            from documents d cross join lateral generate_series(1, abs(hashtext(d.id::text || 's')) % 3) k
          )
     insert into document_permissions (document_id, user_id, role, granted_by)
     select p.document_id, u.id, p.role::permission_role, p.owner_id
     from picks p join u on u.n = p.n
     where u.id <> p.owner_id
     on conflict do nothing`,
    [size.users],
  );
  await seedActivity(client, log);
  // The search-vector update left a dead copy of every document row; a live database would have
  // been vacuumed by now, so measure that state rather than twice the heap pages.
  await step("vacuum", "vacuum analyze");
  log(`seeded in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

/**
 * The activity log of the seeded documents (their creation, extra versions and grants), written
 * in batches of 1,000 documents, one transaction each, so rows carry many transaction ids as a
 * live log does (the changes feed orders by them).
 */
export async function seedActivity(client: pg.Client, log: (line: string) => void = console.log) {
  const started = Date.now();
  const { rows } = await client.query<{ n: number }>("select count(*)::int as n from documents");
  const total = rows[0]?.n ?? 0;
  for (let offset = 0; offset < total; offset += 1000) {
    await client.query(
      `with d as (select id, owner_id, title, current_version, created_at from documents order by created_at, id
                  offset $1 limit 1000)
       insert into activity_logs (document_id, actor_id, action, details, created_at)
       select d.id, d.owner_id, 'document.created', jsonb_build_object('title', d.title), d.created_at from d
       union all
       select d.id, d.owner_id, 'version.created', jsonb_build_object('version_number', n), d.created_at + make_interval(hours => n)
       from d cross join lateral generate_series(2, d.current_version) n
       union all
       select p.document_id, p.granted_by, 'permission.granted', jsonb_build_object('user_id', p.user_id, 'role', p.role),
              d.created_at + interval '1 day'
       from d join document_permissions p on p.document_id = d.id`,
      [offset],
    );
  }
  log(`activity: ${total} documents' history in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
