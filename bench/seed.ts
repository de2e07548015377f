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

/**
 * Users 1..HEAVY_USERS are the heavy callers: each holds a share on about HEAVY_SHARE of all
 * documents (12%: 120,000 of 1,000,000), as an auditor or an assistant would. Everyone else owns
 * documents / users (100 at the bench's sizes) and is granted about as many: hundreds visible.
 */
export const HEAVY_USERS = 4;
export const HEAVY_SHARE = 0.12;

/** A v4-shaped UUID derived from a seed ordinal, so the seed can compute tags before inserting. */
const seededUuid = (expression: string) =>
  `overlay(overlay(md5('docvault-bench-' || ${expression}) placing '4' from 13) placing '8' from 17)::uuid`;

export async function seed(
  client: pg.Client,
  size: SeedSize,
  log: (line: string) => void = console.log,
  connect?: () => Promise<pg.Client>,
) {
  const words = `array[${WORDS.map((w) => `'${w}'`).join(",")}]`;
  const word = (salt: string) => `(${words})[1 + (abs(hashtext(g::text || '${salt}')) % ${WORDS.length})]`;
  const started = Date.now();
  const step = async (label: string, statement: string, params: unknown[] = []) => {
    const t = Date.now();
    const result = await client.query(statement, params);
    log(`  ${label}: ${(result.rowCount ?? 0).toLocaleString("en")} rows in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  };

  log(`seeding ${size.users.toLocaleString("en")} users and ${size.documents.toLocaleString("en")} documents`);
  await step(
    "users",
    `insert into users (email, full_name, password_hash)
     select 'user' || g || '@bench.example', 'Bench User ' || g, $1 from generate_series(1, $2::int) g`,
    [await hashPassword(BENCH_PASSWORD, BENCH_PEPPER), size.users],
  );
  // Documents, their tags and their search vectors in one pass: tags are drawn from the ordinal,
  // so the vector is computed as the row is inserted (no second write of every document row).
  await step(
    "documents and tags",
    `with u as (select id, row_number() over (order by id) as n from users where email like '%@bench.example'),
     g as (
       select g, ${seededUuid("g")} as id, u.id as owner_id,
              initcap(${word("a")}) || ' ' || ${word("b")} || ' ' || g as title,
              'Notes about ' || ${word("c")} || ' and ' || ${word("d")} || ' for the ' || ${word("e")} || ' team' as description,
              array(select distinct (${words})[1 + abs(hashtext(g::text || 'tag' || k)) % ${WORDS.length}]
                    from generate_series(1, abs(hashtext(g::text || 'nt')) % 5) k) as tags
       from generate_series(1, $1::int) g join u on u.n = 1 + g % $2::int
     ),
     inserted as (
       insert into documents (id, owner_id, title, description, current_version, created_at, updated_at, search_vector)
       select id, owner_id, title, description,
              1 + abs(hashtext(g::text || 'v')) % 3,
              now() - (abs(hashtext(g::text || 't')) % (730 * 86400)) * interval '1 second',
              now() - (abs(hashtext(g::text || 'u')) % (30 * 86400)) * interval '1 second',
              setweight(to_tsvector('english', title), 'A')
              || setweight(to_tsvector('english', array_to_string(tags, ' ')), 'B')
              || setweight(to_tsvector('english', description), 'C')
       from g
     )
     insert into document_tags (document_id, tag) select g.id, t from g cross join unnest(g.tags) t`,
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
    "shares",
    `with u as (select id, row_number() over (order by id) as n from users where email like '%@bench.example'),
          picks as (
            select d.id as document_id, d.owner_id, 1 + abs(hashtext(d.id::text || k)) % $1::int as n,
                   -- any grantable role, as the database's enum lists them
                   (enum_range(null::permission_role))[1 + abs(hashtext(d.id::text || k || 'r')) % cardinality(enum_range(null::permission_role))] as role
            from documents d cross join lateral generate_series(1, abs(hashtext(d.id::text || 's')) % 3) k
            union all
            -- the heavy users' shares
            select d.id, d.owner_id, h, 'READ'::permission_role
            from documents d cross join generate_series(1, $2::int) h
            where abs(hashtext(d.id::text || 'heavy' || h)) % 10000 < $3::int
          )
     insert into document_permissions (document_id, user_id, role, granted_by)
     select p.document_id, u.id, p.role::permission_role, p.owner_id
     from picks p join u on u.n = p.n
     where u.id <> p.owner_id
     on conflict do nothing`,
    [size.users, HEAVY_USERS, Math.round(HEAVY_SHARE * 10000)],
  );
  await seedActivity(client, log);
  await seedContent(client, log, false, connect);
  // Measure the state a live database is in: vacuumed (visibility map set) and analysed.
  await step("vacuum", "vacuum analyze");
  log(`seeded in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

// The text inside documents (content search): English prose from a few hundred words of office
// vocabulary, the title words among them, in 500 paragraphs; each document's text is eight of
// them cut to 1–4 KB, as the consumer would have indexed it (weight D). Images have none.
const PROSE = (
  "the a of to and in for on with by from as at this that these those our their its we they it is are was were be " +
  "been will would should could can may must has have had not no all each every more most less other such new next " +
  "last first second third final current previous annual quarterly monthly weekly daily team teams group department " +
  "office company client clients customer customers supplier suppliers vendor vendors partner partners contractor " +
  "employee employees manager managers director board committee staff project projects program schedule deadline " +
  "milestone milestones deliverable deliverables scope requirement requirements estimate estimates cost costs price " +
  "pricing invoice invoices payment payments purchase order orders receipt receipts account accounts ledger balance " +
  "revenue expense expenses budget budgets forecast forecasts variance margin profit loss tax taxes audit auditor " +
  "compliance regulation regulations policy policies procedure procedures guideline risk risks control controls " +
  "incident incidents outage root cause action item items owner status update review approval approved pending " +
  "signed contract contracts agreement agreements clause clauses term terms renewal termination liability warranty " +
  "indemnity confidentiality obligation obligations notice period effective date amendment appendix exhibit section " +
  "meeting minutes agenda attendees discussion decision decisions follow up summary report reports analysis data " +
  "metric metrics target targets goal goals objective objectives result results performance growth decline increase " +
  "decrease improvement plan plans strategy roadmap release version feature features design architecture system " +
  "systems service services server servers database network security access permission permissions user users " +
  "support ticket tickets training onboarding hiring candidate interview offer salary benefits leave travel " +
  "shipment delivery warehouse inventory stock logistics freight carrier region regions market markets campaign " +
  "launch product products pricing discount quote proposal tender bid evaluation criteria score vendor selection"
).split(" ");

function paragraphs(count: number): string[] {
  let state = 20261126;
  const random = () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
  // Zipf-like: common words far more often than rare ones, as in real text.
  const pick = () => PROSE[Math.floor(PROSE.length * random() ** 2)] as string;
  return Array.from({ length: count }, () =>
    Array.from({ length: 3 + Math.floor(random() * 4) }, () => {
      const words = Array.from({ length: 8 + Math.floor(random() * 12) }, pick);
      const sentence = words.join(" ");
      return `${sentence[0]?.toUpperCase()}${sentence.slice(1)}.`;
    }).join(" "),
  );
}

export async function seedContent(
  client: pg.Client,
  log: (line: string) => void = console.log,
  vacuum = true,
  connect?: () => Promise<pg.Client>,
) {
  const t = Date.now();
  const body = paragraphs(500);
  // to_tsvector is most of the work and PostgreSQL runs one INSERT on one core: with a second
  // connection, two halves of the documents are indexed at once.
  const lanes = connect ? 2 : 1;
  const extra = await Promise.all(Array.from({ length: lanes - 1 }, () => (connect as () => Promise<pg.Client>)()));
  const clients = [client, ...extra];
  try {
    // The content trigger would rebuild each document's match_vector one row at a time; the
    // seed turns triggers off for its insert and rebuilds them all in one statement below.
    await Promise.all(clients.map((c) => c.query("set session_replication_role = replica")));
    const counts = await Promise.all(
      clients.map((c, lane) =>
        c.query(
          `with p as (select n - 1 as n, body from unnest($1::text[]) with ordinality as x(body, n))
           insert into document_contents (document_id, version_number, status, text, search_vector)
           select d.id, d.current_version, case when v.content_type = 'image/png' then 'unsupported' else 'indexed' end,
                  case when v.content_type = 'image/png' then null else c.text end,
                  case when v.content_type = 'image/png' then ''::tsvector else strip(to_tsvector('english', c.text)) end
           from documents d
           join document_versions v on v.document_id = d.id and v.version_number = d.current_version
           cross join lateral (
             select left(string_agg(p.body, E'\n\n' order by k), 1024 + abs(hashtext(d.id::text || 'len')) % 3072) as text
             from generate_series(1, 8) k join p on p.n = abs(hashtext(d.id::text || k)) % 500
           ) c
           where abs(hashtext(d.id::text || 'lane')) % $2::int = $3::int`,
          [body, lanes, lane],
        ),
      ),
    );
    const rows = counts.reduce((sum, r) => sum + (r.rowCount ?? 0), 0);
    await client.query(`update documents d set match_vector = d.search_vector || c.search_vector
      from document_contents c where c.document_id = d.id and c.version_number = d.current_version`);
    log(`  content: ${rows.toLocaleString("en")} rows in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  } finally {
    await Promise.all(clients.map((c) => c.query("reset session_replication_role").catch(() => undefined)));
    await Promise.all(extra.map((c) => c.end()));
  }
  if (vacuum) await client.query("vacuum analyze document_contents");
}

/**
 * The activity log of the seeded documents (their creation, extra versions and grants), written
 * in batches of 5,000 documents, one transaction each, so rows carry many transaction ids as a
 * live log does (the changes feed orders by them). Batches are numbered once in a temporary
 * table: an OFFSET per batch would re-read every earlier document (quadratic at 1,000,000).
 */
export async function seedActivity(client: pg.Client, log: (line: string) => void = console.log) {
  const started = Date.now();
  const BATCH = 5000;
  await client.query(`create temporary table seed_batches as
    select id, ((row_number() over (order by created_at, id)) - 1) / ${BATCH} as b from documents`);
  await client.query("create index on seed_batches (b)");
  const { rows } = await client.query<{ n: number }>("select coalesce(max(b) + 1, 0)::int as n from seed_batches");
  const batches = rows[0]?.n ?? 0;
  // Each change's audience (migration 0020) is written per batch in one statement, the trigger's
  // rule applied to the rows just inserted, rather than by the trigger row by row.
  await client.query("alter table activity_logs disable trigger activity_logs_audience");
  for (let b = 0; b < batches; b++) {
    await client.query(
      `with d as (select d.id, d.owner_id, d.title, d.current_version, d.created_at
                  from seed_batches s join documents d on d.id = s.id where s.b = $1)
       insert into activity_logs (document_id, actor_id, action, details, created_at)
       select d.id, d.owner_id, 'document.created', jsonb_build_object('title', d.title), d.created_at from d
       union all
       select d.id, d.owner_id, 'version.created', jsonb_build_object('version_number', n), d.created_at + make_interval(hours => n)
       from d cross join lateral generate_series(2, d.current_version) n
       union all
       select p.document_id, p.granted_by, 'permission.granted', jsonb_build_object('user_id', p.user_id, 'role', p.role),
              d.created_at + interval '1 day'
       from d join document_permissions p on p.document_id = d.id`,
      [b],
    );
    // docvault_change_readers' rule written as joins: every seeded document is live and nothing
    // is revoked, so a change's readers are its document's owner and grantees. Calling the
    // function per row (three subqueries each) took ~30 s a batch, 100 minutes at 1,000,000.
    await client.query(
      `with l as (select l.document_id, l.xact_id, l.seq
                  from seed_batches s join activity_logs l on l.document_id = s.id where s.b = $1)
       insert into change_audience (user_id, xact_id, seq)
       select d.owner_id, l.xact_id, l.seq from l join documents d on d.id = l.document_id
       union
       select p.user_id, l.xact_id, l.seq from l join document_permissions p on p.document_id = l.document_id`,
      [b],
    );
    if (batches >= 20 && (b + 1) % Math.ceil(batches / 10) === 0) {
      log(`  activity: ${Math.round(((b + 1) / batches) * 100)}% (${((Date.now() - started) / 1000).toFixed(0)} s)`);
    }
  }
  await client.query("alter table activity_logs enable trigger activity_logs_audience");
  await client.query("drop table seed_batches");
  log(`  activity: the history of every document in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
