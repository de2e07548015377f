// The statements of content indexing (table document_contents, DESIGN.md "Content search"). Each
// is one round trip. A result is written only while its version is still the document's current
// one and the document is not in the trash: a late or repeated message changes nothing.
import { sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { SERVICE_ACTOR } from "../documents/actor";
import { accessCte, activity, searchableText } from "../documents/sql";
import { Failure } from "../lib/failure";
import type { StoredVersion } from "./extract";

/** The version a message names, when it is still current and its text still needs extracting. */
export async function versionToIndex(
  db: Database,
  documentId: string,
  versionNumber: number,
): Promise<StoredVersion | null> {
  const result = await db.execute<{ storage_key: string; content_type: string; size_bytes: string | number }>(sql`
    select v.storage_key, v.content_type, v.size_bytes
    from documents d
    join document_versions v on v.document_id = d.id and v.version_number = d.current_version
    left join document_contents c on c.document_id = d.id
    where d.id = ${documentId}::uuid and d.current_version = ${versionNumber} and d.deleted_at is null
      and not (c.version_number is not distinct from d.current_version and c.status in ('indexed', 'unsupported'))`);
  const row = result.rows[0];
  return row ? { storageKey: row.storage_key, contentType: row.content_type, sizeBytes: Number(row.size_bytes) } : null;
}

export type ContentResult =
  | { status: "indexed"; text: string; truncated: boolean }
  | { status: "unsupported" }
  | { status: "failed"; error: string }
  /** A failed attempt that will be retried: the row stays pending with the error. */
  | { status: "pending"; error: string };

/**
 * PostgreSQL's limit for one tsvector is 1 MiB; the list concatenates it with the metadata's. The
 * content's vector is stripped of positions (weight D, the default, needs none): a third smaller,
 * and the list's match over the caller's rows twice as fast on the bench data (DESIGN.md). A
 * phrase ("…") then matches the content's words in any order.
 */
const MAX_VECTOR_BYTES = 900_000;

/** What a write did: `written`, the row changed; `recorded`, its `content.indexed` row was added. */
export type SaveOutcome = { written: boolean; recorded: boolean };

/**
 * Writes a version's result, when that version is still current and the document live (when the
 * vector could only be built from the start of the text, that is said in `error`). A text whose
 * vector would pass PostgreSQL's limit (a text of many distinct words) is indexed from its first
 * half, then quarter…; the whole text is still stored and served.
 *
 * A finished result (indexed, unsupported, failed) is recorded in the same statement as one
 * `content.indexed` activity row (actor_id null: the service did it), once per version and
 * outcome: the unique index activity_logs_content_indexed_key makes a redelivered message, a
 * second consumer racing on the version, or a re-extraction with the same outcome add nothing
 * (a racing insert waits for the first one's commit, then does nothing). A pending attempt's note,
 * a stale version and a trashed or purged document write and record nothing.
 */
export async function saveContent(
  db: Database,
  input: { documentId: string; versionNumber: number; result: ContentResult },
): Promise<SaveOutcome> {
  const { result } = input;
  const text = result.status === "indexed" ? result.text : null;
  const truncated = result.status === "indexed" ? result.truncated : null;
  let vectorChars = text?.length ?? 0;
  for (let attempt = 0; attempt < 6; attempt++) {
    const cut = text !== null && vectorChars < text.length;
    const note = cut
      ? `Only the first ${vectorChars} characters are searchable (the text has too many distinct words).`
      : null;
    const error = result.status === "failed" || result.status === "pending" ? result.error : note;
    const written = await db.execute<{ written: boolean; recorded: boolean; fits: boolean }>(sql`
      with vector as (
        select case when ${text}::text is null then ''::tsvector
                    else strip(to_tsvector('english', ${searchableText(sql`left(${text}::text, ${vectorChars})`)})) end as v
      ),
      target as (
        select d.id from documents d
        where d.id = ${input.documentId}::uuid and d.current_version = ${input.versionNumber} and d.deleted_at is null
          and (select pg_column_size(v) from vector) <= ${MAX_VECTOR_BYTES}
        -- The lock the content row's trigger takes to rebuild documents.match_vector (migration
        -- 0014), taken first: with FOR SHARE here, two consumers of one version each held a share
        -- lock and waited for the other's to update the row, a deadlock PostgreSQL broke by
        -- failing one. Consumers of one document now queue here instead.
        for no key update
      ),
      saved as (
        insert into document_contents (document_id, version_number, status, text, search_vector, error, queued_at, updated_at)
        select t.id, ${input.versionNumber}, ${result.status}, ${text}::text, (select v from vector), ${error}::text,
               case when ${result.status} = 'pending' then now() end, now()
        from target t
        on conflict (document_id) do update set
          version_number = excluded.version_number, status = excluded.status, text = excluded.text,
          search_vector = excluded.search_vector, error = excluded.error, queued_at = excluded.queued_at, updated_at = now()
        -- A pending attempt never overwrites a finished result of the same version, nor a failure
        -- (a dead letter) an indexed or unsupported one that another message wrote meanwhile.
        where document_contents.version_number < excluded.version_number
           or document_contents.status = 'pending'
           or (excluded.status <> 'pending'
               and not (excluded.status = 'failed' and document_contents.status in ('indexed', 'unsupported')))
        returning document_id, version_number, status, char_length(text) as characters
      ),
      recorded as (
        ${activity(
          SERVICE_ACTOR,
          "content.indexed",
          sql`s.document_id`,
          sql`jsonb_strip_nulls(jsonb_build_object('version_number', s.version_number, 'status', s.status,
                'characters', s.characters, 'truncated', ${truncated}::boolean,
                'searchable_characters', ${cut ? vectorChars : null}::int))`,
        )}
        from saved s where s.status <> 'pending'
        on conflict (document_id, (details->>'version_number'), (details->>'status'))
          where action = 'content.indexed' do nothing
        returning 1
      )
      select exists (select 1 from saved) as written, exists (select 1 from recorded) as recorded,
             (select pg_column_size(v) from vector) <= ${MAX_VECTOR_BYTES} as fits`);
    const row = written.rows[0];
    if (row?.fits !== false) return { written: Boolean(row?.written), recorded: Boolean(row?.recorded) };
    vectorChars = Math.floor(vectorChars / 2);
  }
  return { written: false, recorded: false };
}

/** The indexed text of a document's current version, for a caller with at least READ. */
export async function indexedText(db: Database, documentId: string, userId: string): Promise<string> {
  const result = await db.execute<{ found: boolean; text: string | null }>(sql`
    with ${accessCte(documentId, userId)}
    select true as found, c.text
    from access a join documents d on d.id = a.id
    left join document_contents c on c.document_id = d.id and c.version_number = d.current_version and c.status = 'indexed'`);
  const row = result.rows[0];
  if (!row) throw new Failure("document_not_found", "No such document.");
  if (row.text === null) {
    throw new Failure(
      "content_not_indexed",
      "This document's current version has no indexed text (yet, or at all: see content_status).",
    );
  }
  return row.text;
}

/**
 * Pending rows (marked by the backfill) handed to the queue: up to `limit`, each leased for an
 * hour (queued_at), so overlapping runs do not send one twice and a lost message is sent again.
 */
export async function leasePending(
  db: Database,
  limit: number,
): Promise<{ documentId: string; versionNumber: number }[]> {
  const result = await db.execute<{ document_id: string; version_number: number }>(sql`
    with picked as (
      select document_id from document_contents
      where status = 'pending' and (queued_at is null or queued_at < now() - interval '1 hour')
      order by queued_at nulls first, document_id
      limit ${limit}
      for update skip locked
    )
    update document_contents c set queued_at = now()
    from picked where c.document_id = picked.document_id
    returning c.document_id, c.version_number`);
  return result.rows.map((r) => ({ documentId: r.document_id, versionNumber: Number(r.version_number) }));
}
