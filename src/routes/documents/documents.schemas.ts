import { z } from "@hono/zod-openapi";
import { ROLES } from "../../documents/roles";
import { MAX_TAG_LENGTH, MAX_TAGS } from "../../documents/tags";
import { upToCharacters } from "../../lib/characters";
import { depthPageFields, pageOf, withinPageDepth } from "../../lib/pagination";

/** Highest first, as the API has always listed them. */
export const RoleSchema = z.enum([...ROLES].reverse()).openapi("Role");

export const DocumentSchema = z
  .object({
    id: z.guid(),
    title: z.string(),
    description: z.string().nullable(),
    tags: z.array(z.string()).openapi({ description: "Sorted, lower-case.", example: ["finance", "q3"] }),
    owner_id: z.guid(),
    current_version: z.number().int(),
    file_name: z.string().openapi({ example: "report.pdf" }),
    content_type: z.string().openapi({ example: "application/pdf" }),
    size_bytes: z.number().int(),
    sha256: z.string().openapi({ description: "Hex SHA-256 of the current version's bytes." }),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
    my_role: RoleSchema,
    content_status: z.enum(["pending", "indexed", "unsupported", "failed"]).openapi({
      description:
        "How far the current version's text is, for content search and `GET /documents/{id}/content`: " +
        "`pending` (extraction queued; a new version is pending until its own text is indexed, and the " +
        "previous version's text is no longer searched), `indexed`, `unsupported` (a type without extractable " +
        "text: images, legacy Office, RTF, ZIP) or `failed` (encrypted, damaged, a zip bomb, a PDF over 25 MiB, " +
        "or storage kept failing). Each of the last three is recorded once per version as a `content.indexed` " +
        "activity (`actor_id` null), which the changes feed, webhooks and live events deliver.",
    }),
  })
  .openapi("Document");

/** A listed document: with `q`, its highlight. */
export const ListedDocumentSchema = DocumentSchema.extend({
  highlight: z
    .string()
    .optional()
    .openapi({
      description:
        "Only with `q`: an excerpt of at most 240 characters (an ellipsis ends a cut one) around the best " +
        "match in the title, description or content (around the first place a word of the query appears in " +
        "them), matched words " +
        "wrapped in `<mark>` and `</mark>`; every other `<`, `>` and `&` is escaped (`&lt;`, `&gt;`, " +
        "`&amp;`; quotes stay as they are, as the contract says), so it can be inserted as an element's HTML. A match in the tags only gives the start of the text, unmarked.",
    }),
}).openapi("ListedDocument");

export const VersionSchema = z
  .object({
    version_number: z.number().int(),
    file_name: z.string(),
    content_type: z.string(),
    size_bytes: z.number().int(),
    sha256: z.string(),
    comment: z.string().nullable(),
    created_by: z.guid(),
    created_at: z.iso.datetime(),
  })
  .openapi("Version");

export const VersionPageSchema = pageOf(VersionSchema, "VersionPage");

export const DocumentPageSchema = z
  .object({
    items: z.array(ListedDocumentSchema),
    total: z.number().int().openapi({ description: "How many documents match (see `total_relation`)." }),
    total_relation: z.enum(["eq", "gte"]).openapi({
      description:
        "`eq` when `total` is exact; `gte` when more than 10,000 documents match: `total` is then 10,000, a lower " +
        "bound, so that a caller who can see hundreds of thousands of documents still gets a page quickly. A " +
        "search (`q`) without `sort` then ranks the newest matches (the 10,001 newest the caller owns and the " +
        "10,001 newest shared with them): narrow the query, or sort, to reach the others.",
    }),
    page: z.number().int(),
    limit: z.number().int(),
  })
  .openapi("DocumentPage");

export const DownloadSchema = z
  .object({
    url: z
      .url()
      .openapi({ description: "Presigned GET on the object store; answers the exact bytes as an attachment." }),
    expires_at: z.iso.datetime(),
    version_number: z.number().int(),
    file_name: z.string(),
    content_type: z.string(),
    size_bytes: z.number().int(),
  })
  .openapi("Download");

export const IdParam = z.object({
  id: z.guid().openapi({ param: { name: "id", in: "path" }, example: "6f1c2b8e-2d7a-4a59-9c61-0b7f3f4f0a11" }),
});

export const Title = upToCharacters(500, z.string().trim().min(1)).openapi({ minLength: 1 });
export const Description = upToCharacters(10_000);
export const Comment = upToCharacters(1000);
const Tag = z.string().max(200);

export const UpdateDocumentBody = z
  .object({
    title: Title.optional(),
    description: Description.nullable().optional(),
    tags: z
      .union([z.array(Tag).max(200), z.string().max(20_000)])
      .optional()
      .openapi({
        description: `Replaces the set: at most ${MAX_TAGS} tags of 1–${MAX_TAG_LENGTH} characters, stored trimmed, lower-case and sorted. An array (each element one tag: an empty or blank element, or one with a comma, is 422), or one comma-separated string (empty pieces skipped).`,
      }),
  })
  .openapi("UpdateDocument");

export const DownloadQuery = z.object({
  version: z.coerce.number().int().min(1).max(2_147_483_647).optional(),
});

export const IfMatchHeader = z.object({
  "if-match": z
    .string()
    .max(200)
    .optional()
    .openapi({ description: "The ETag from GET; the update is refused with 412 when the document changed since." }),
});

type SchemaObject = { type: "object"; required: string[]; properties: Record<string, Record<string, unknown>> };

/** Multipart bodies are parsed by the handler (capped on received bytes), so these are documentation only. */
export const multipartDocument: SchemaObject = {
  type: "object",
  required: ["file"],
  // The file last: Swagger UI sends the parts in this order, and fields before the file are
  // checked before any of it is stored.
  properties: {
    // Empty examples: Swagger UI would otherwise send the placeholder "string" for fields left alone.
    title: { type: "string", maxLength: 500, description: "Defaults to the file name.", example: "" },
    description: { type: "string", maxLength: 10000, example: "" },
    tags: { type: "string", description: "Comma-separated, or repeat the field.", example: "" },
    file: {
      type: "string",
      format: "binary",
      description:
        "The file; its type is detected from its bytes. Exactly one `file` part: a second one is 422 and neither is stored. Parts of other names are read past and dropped.",
    },
  },
};

export const multipartVersion: SchemaObject = {
  type: "object",
  required: ["file"],
  properties: {
    comment: { type: "string", maxLength: 1000, example: "" },
    file: { type: "string", format: "binary", description: "The file. Exactly one `file` part: a second one is 422." },
  },
};

/**
 * Its three forms, described apart: the generator would describe the offset-less one as
 * `format: date-time` too, which RFC 3339 (and so a validating client) reads as requiring an
 * offset; it is described by its pattern instead.
 */
const Timestamp = z.union([z.iso.datetime({ offset: true }), z.iso.datetime({ local: true }), z.iso.date()]).openapi({
  anyOf: [
    { type: "string", format: "date-time" },
    { type: "string", pattern: "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}(:\\d{2}(\\.\\d+)?)?$" },
    { type: "string", format: "date" },
  ],
  description:
    "RFC 3339 date-time (with Z or an offset), a date-time without one (taken as UTC, as Python's isoformat() of a naive UTC datetime writes it), or a date (midnight UTC).",
  example: "2026-11-01T00:00:00Z",
});

export const ListQuery = z
  .object({
    q: z
      .string()
      .optional()
      .openapi({
        description:
          "Any text is accepted; a text over 500 characters is searched on its words up to the 500th character. " +
          "Full-text search over title, tags, description and the text inside the current version (English " +
          "stemming, web-search syntax: quotes, `-`, `OR`); the words may be spread over these fields. Title " +
          "weighs most, then tags, description, and content. A quoted phrase matches the metadata as a phrase and " +
          "the content's words in any order (the content's index keeps no positions). Angle brackets are " +
          "punctuation, in `q` and in every indexed text alike: `<style>` is the word `style`, and the words " +
          "around and after it are searched (the text is never taken for HTML markup). Without `sort`, results come by relevance. Each " +
          "item then carries `highlight`. Text is extracted in the background after an upload: until then " +
          "(`content_status: pending`) only the metadata matches.",
      }),
    tags: z
      .string()
      .max(2000)
      .optional()
      .openapi({ description: "Comma-separated; a document must carry all of them." }),
    owner: z.enum(["me", "shared", "all"]).default("all").openapi({
      description:
        "`me`: owned by the caller; `shared`: shared with the caller; `all`: everything the caller can read.",
    }),
    content_type: z
      .string()
      .max(200)
      .refine((value) => !/\p{Cc}/u.test(value), "must not contain control characters")
      .optional()
      .openapi({ description: "Media type of the current version, e.g. application/pdf." }),
    created_after: Timestamp.optional().openapi({ description: "Inclusive." }),
    created_before: Timestamp.optional().openapi({ description: "Exclusive." }),
    sort: z
      .enum(["created_at", "-created_at", "updated_at", "-updated_at", "title", "-title"])
      .optional()
      .openapi({
        description:
          "`-` for descending. Default `-created_at` (relevance when `q` is given). Ties break on id. `title` " +
          "sorts by Unicode code point, the same on every database (upper case before lower case, accented letters " +
          "after z).",
      }),
    ...depthPageFields(20, "narrow the query instead"),
  })
  .superRefine(withinPageDepth("narrow the query (q, tags, owner, dates) instead"));
