// A small HTTP front in front of s3rver that does what s3rver does not and S3/R2 do, so that a
// signing or multipart bug fails here rather than in production:
//   - every request's Signature V4 is checked (Authorization header or presigned query, expiry
//     included), recomputed with AWS's own signer (@smithy/signature-v4);
//   - AbortMultipartUpload, ListParts and ListMultipartUploads (s3rver has none), NoSuchUpload
//     for unknown upload ids, and at CompleteMultipartUpload the part rules: ascending order,
//     ETags that match, and the 5 MiB minimum for every part but the last (EntityTooSmall);
//   - the body of a PUT is checked against a hex `x-amz-content-sha256`, and, with
//     `conditionalPuts`, against `x-amz-checksum-sha256` and `If-None-Match: *`;
// patches/s3rver+3.7.1.patch fixes what lies inside s3rver itself: an object is replaced at
// once (bytes and metadata written aside, then renamed over the old ones), a GET serves the file
// it opened with that file's length, and a Range on an empty object is 416 InvalidRange, as on S3.
// Bodies stream through (only a CompleteMultipartUpload's small XML is read whole). Path-style
// only, as the service uses. Multipart state is read from s3rver's own directory (parts live in
// `{bucket}/._S3rver_uploads/{uploadId}/{n}` with `{n}.md5` and the upload's `key`), so the front
// keeps no state and survives restarts.
import { createHash, createHmac, type Hash, type Hmac, timingSafeEqual } from "node:crypto";
import { readdir, readFile, rm, stat, unlink } from "node:fs/promises";
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import { join } from "node:path";
import { pipeline } from "node:stream";
import {
  ALGORITHM_IDENTIFIER,
  createScope,
  getCanonicalHeaders,
  SignatureV4,
  UNSIGNED_PAYLOAD,
} from "@smithy/signature-v4";

export type Failure = { status: number; code: string; message: string };
const fail = (status: number, code: string, message: string): Failure => ({ status, code, message });

export const MIN_PART_SIZE = 5 * 1024 * 1024;
const MAX_SKEW_MS = 15 * 60 * 1000; // S3's RequestTimeTooSkewed window for header-signed requests
const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;

/** SHA-256 and HMAC-SHA256 in the shape the signer takes (`new Sha256(secret?)`). */
class NodeSha256 {
  readonly #hash: Hash | Hmac;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.#hash = secret === undefined ? createHash("sha256") : createHmac("sha256", bytes(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.#hash.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.#hash.digest());
  }
}
const bytes = (data: string | ArrayBuffer | ArrayBufferView) =>
  typeof data === "string"
    ? Buffer.from(data, "utf8")
    : ArrayBuffer.isView(data)
      ? Buffer.from(data.buffer, data.byteOffset, data.byteLength)
      : Buffer.from(data);

/**
 * The signer signs; to verify, it recomputes the signature over the received request. The
 * public sign()/presign() add headers of their own (x-amz-date, a hoisted x-amz-*), drop a
 * signed `date`, and pick the headers themselves, so this uses the same canonical-request,
 * string-to-sign and key-derivation steps with exactly the headers the client listed.
 */
class Verifier extends SignatureV4 {
  async expected(
    request: {
      method: string;
      path: string;
      query: Record<string, string | string[]>;
      headers: Record<string, string>;
    },
    signedHeaders: string[],
    payloadHash: string,
    date: Date,
    scope: { region: string; service: string },
  ): Promise<string | null> {
    const headers: Record<string, string> = {};
    for (const name of signedHeaders) {
      const value = request.headers[name];
      if (value !== undefined) headers[name] = value;
    }
    const http = { ...request, headers, protocol: "http:", hostname: request.headers.host ?? "" };
    const canonical = getCanonicalHeaders(http, undefined, new Set(signedHeaders));
    // A listed header that was not sent cannot have been signed with the value received.
    if (Object.keys(canonical).sort().join(";") !== signedHeaders.join(";")) return null;
    const { longDate, shortDate } = this.formatDate(date);
    const canonicalRequest = this.createCanonicalRequest(http, canonical, payloadHash);
    const stringToSign = await this.createStringToSign(
      longDate,
      createScope(shortDate, scope.region, scope.service),
      canonicalRequest,
      ALGORITHM_IDENTIFIER,
    );
    return this.sign(stringToSign, { signingDate: date, signingRegion: scope.region, signingService: scope.service });
  }
}

export type SignatureCheckOptions = {
  /** Access key id → secret access key. */
  credentials: Record<string, string>;
  region: string;
  now?: Date;
};

/** S3's canonical URI: each segment decoded, then URI-encoded once (RFC 3986 unreserved kept). */
function canonicalPath(rawPath: string): string {
  return rawPath
    .split("/")
    .map((segment) => {
      let decoded = segment;
      try {
        decoded = decodeURIComponent(segment);
      } catch {}
      return encodeURIComponent(decoded).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
    })
    .join("/");
}

function parseAmzDate(value: string | null | undefined): Date | null {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value ?? "");
  if (!m) return null;
  const date = new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`);
  return Number.isNaN(date.getTime()) ? null : date;
}

function sameSignature(expected: string | null, given: string): boolean {
  if (expected === null) return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

const SIGNATURE_MISMATCH = fail(
  403,
  "SignatureDoesNotMatch",
  "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
);

/**
 * Checks a request's Signature V4 the way S3 does; null when it holds. `headers` are Node's
 * (lower-case names, repeated headers joined with ", ").
 */
export async function checkSignature(
  request: { method: string; url: string; headers: Record<string, string | string[] | undefined> },
  options: SignatureCheckOptions,
): Promise<Failure | null> {
  const now = options.now ?? new Date();
  const [rawPath = "/", rawQuery = ""] = request.url.split(/\?(.*)/s);
  const params = new URLSearchParams(rawQuery);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(",") : value;
  }
  const authorization = headers.authorization;
  const presigned = params.has("X-Amz-Signature") || params.has("X-Amz-Credential");
  if (authorization && presigned) return fail(400, "InvalidArgument", "Only one auth mechanism allowed");
  // The bucket is private: S3 answers an anonymous request 403.
  if (!authorization && !presigned) return fail(403, "AccessDenied", "Access Denied");

  let credential: string;
  let signedList: string;
  let signature: string;
  let date: Date | null;
  let payloadHash: string;
  const malformed = presigned ? "AuthorizationQueryParametersError" : "AuthorizationHeaderMalformed";
  if (presigned) {
    if (params.get("X-Amz-Algorithm") !== ALGORITHM_IDENTIFIER) {
      return fail(400, malformed, 'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"');
    }
    credential = params.get("X-Amz-Credential") ?? "";
    signedList = params.get("X-Amz-SignedHeaders") ?? "";
    signature = params.get("X-Amz-Signature") ?? "";
    date = parseAmzDate(params.get("X-Amz-Date"));
    // A presigned URL cannot sign its body: S3 takes it as UNSIGNED-PAYLOAD.
    payloadHash = UNSIGNED_PAYLOAD;
  } else {
    const fields = new Map<string, string>();
    const [algorithm, ...rest] = (authorization ?? "").split(" ");
    for (const field of rest.join("").split(",")) {
      const at = field.indexOf("=");
      fields.set(field.slice(0, at).trim(), field.slice(at + 1).trim());
    }
    if (algorithm !== ALGORITHM_IDENTIFIER) return fail(400, "InvalidArgument", "Unsupported Authorization Type");
    credential = fields.get("Credential") ?? "";
    signedList = fields.get("SignedHeaders") ?? "";
    signature = fields.get("Signature") ?? "";
    date = parseAmzDate(headers["x-amz-date"]);
    payloadHash = headers["x-amz-content-sha256"] ?? "";
    if (!payloadHash) {
      return fail(400, "InvalidRequest", "Missing required header for this request: x-amz-content-sha256");
    }
    // aws4fetch sends UNSIGNED-PAYLOAD or the hex digest the caller gives; chunked
    // STREAMING-AWS4-HMAC-SHA256-PAYLOAD bodies are not used by the service.
    if (payloadHash !== UNSIGNED_PAYLOAD && !/^[0-9a-f]{64}$/.test(payloadHash)) {
      return fail(501, "NotImplemented", `x-amz-content-sha256 "${payloadHash}" is not supported by the local front`);
    }
  }
  const [accessKeyId = "", scopeDate, region = "", service = "", terminator] = credential.split("/");
  if (!signedList || !signature || !scopeDate || terminator !== "aws4_request" || service !== "s3") {
    return fail(400, malformed, "The authorization is malformed (credential, signed headers or signature).");
  }
  if (!date)
    return fail(
      presigned ? 400 : 403,
      presigned ? malformed : "AccessDenied",
      "X-Amz-Date is missing or not in the ISO 8601 basic format",
    );
  const secret = options.credentials[accessKeyId];
  if (secret === undefined) {
    return fail(403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.");
  }
  if (region !== options.region) {
    return fail(
      400,
      malformed,
      `The authorization is malformed; the region '${region}' is wrong; expecting '${options.region}'`,
    );
  }
  if (presigned) {
    const expires = Number(params.get("X-Amz-Expires"));
    if (!Number.isInteger(expires) || expires < 1 || expires > MAX_PRESIGN_SECONDS) {
      return fail(400, malformed, "X-Amz-Expires must be between 1 and 604800 seconds");
    }
    if (now.getTime() > date.getTime() + expires * 1000) return fail(403, "AccessDenied", "Request has expired");
  } else if (Math.abs(now.getTime() - date.getTime()) > MAX_SKEW_MS) {
    return fail(
      403,
      "RequestTimeTooSkewed",
      "The difference between the request time and the current time is too large.",
    );
  }
  const signedHeaders = signedList.split(";");
  // S3 refuses x-amz-* headers that the signature does not cover (they change what is stored).
  const unsigned = Object.keys(headers).filter((name) => name.startsWith("x-amz-") && !signedHeaders.includes(name));
  if (unsigned.length > 0) {
    return fail(
      403,
      "AccessDenied",
      `There were headers present in the request which were not signed: ${unsigned.join(", ")}`,
    );
  }

  const query: Record<string, string | string[]> = {};
  for (const [name, value] of params) {
    const seen = query[name];
    query[name] = seen === undefined ? value : [...(Array.isArray(seen) ? seen : [seen]), value];
  }
  delete query["X-Amz-Signature"]; // (the signer leaves it out of the canonical query anyway)
  const verifier = new Verifier({
    credentials: { accessKeyId, secretAccessKey: secret },
    region,
    service,
    sha256: NodeSha256,
    uriEscapePath: false, // S3 canonicalizes the path once, which canonicalPath() does
    applyChecksum: false,
  });
  const expected = await verifier.expected(
    { method: request.method, path: canonicalPath(rawPath), query, headers },
    signedHeaders,
    payloadHash,
    date,
    { region, service },
  );
  // The scope's date must be the signing date's day (the key is derived from it).
  const dayMatches = scopeDate === (presigned ? params.get("X-Amz-Date") : headers["x-amz-date"])?.slice(0, 8);
  return dayMatches && sameSignature(expected, signature) ? null : SIGNATURE_MISMATCH;
}

export type S3FrontOptions = SignatureCheckOptions & {
  /** Where s3rver listens. */
  upstream: { host: string; port: number };
  /** s3rver's directory (the front reads and removes multipart parts there). */
  directory: string;
  host?: string;
  port?: number;
  /**
   * Enforce `If-None-Match: *` (412 when the key exists) and `x-amz-checksum-sha256` (400
   * BadDigest) on PUT, as S3 and R2 do.
   */
  conditionalPuts?: boolean;
};

export type S3Front = { endpoint: string; port: number; close(): Promise<void> };

const escapeXml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" })[c] ?? c);

function sendXml(req: IncomingMessage, res: ServerResponse, status: number, xml: string): void {
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n${xml}`;
  res.writeHead(status, { "content-type": "application/xml", "content-length": Buffer.byteLength(body) });
  // Drain what the client is still sending, without keeping it.
  req.resume();
  res.end(req.method === "HEAD" ? undefined : body);
}

function sendError(req: IncomingMessage, res: ServerResponse, failure: Failure): void {
  const resource = (req.url ?? "/").split("?")[0] ?? "/";
  sendXml(
    req,
    res,
    failure.status,
    `<Error><Code>${failure.code}</Code><Message>${escapeXml(failure.message)}</Message><Resource>${escapeXml(resource)}</Resource><RequestId>local-front</RequestId></Error>`,
  );
}

/** s3rver's file for an object's resource (its FilesystemStore.getResourcePath, POSIX). */
function resourcePath(directory: string, bucket: string, key: string, resource: string): string {
  const parts = key.split("/");
  const last = parts.pop() ?? "";
  return join(directory, bucket, ...parts, `${last}._S3rver_${resource}`);
}

type Part = { number: number; etag: string; size: number; lastModified: Date };

export async function startS3Front(options: S3FrontOptions): Promise<S3Front> {
  const host = options.host ?? "127.0.0.1";
  const uploadDir = (bucket: string, uploadId: string) => join(options.directory, bucket, "._S3rver_uploads", uploadId);

  /** The upload's parts, or null when the upload does not exist for that key. */
  async function uploadParts(bucket: string, key: string, uploadId: string): Promise<Part[] | null> {
    if (!/^[0-9a-f]{32}$/.test(uploadId)) return null;
    const dir = uploadDir(bucket, uploadId);
    const owner = await readFile(join(dir, "key"), "utf8").catch(() => null);
    if (owner !== key) return null;
    const parts: Part[] = [];
    for (const name of await readdir(dir)) {
      // A part counts once s3rver has written its digest (it does so after the bytes).
      if (!/^\d+$/.test(name)) continue;
      const md5 = await readFile(join(dir, `${name}.md5`), "utf8").catch(() => null);
      const info = await stat(join(dir, name)).catch(() => null);
      if (md5 && info)
        parts.push({ number: Number(name), etag: `"${md5}"`, size: info.size, lastModified: info.mtime });
    }
    return parts.sort((a, b) => a.number - b.number);
  }

  /** Sends the request on to s3rver, body streamed (or `body` if given); resolves with its answer. */
  function forward(req: IncomingMessage, body?: Buffer): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const headers = { ...req.headers };
      if (body) headers["content-length"] = String(body.length);
      const upstream = httpRequest(
        { host: options.upstream.host, port: options.upstream.port, method: req.method, path: req.url, headers },
        resolve,
      );
      upstream.on("error", reject);
      if (body) upstream.end(body);
      // pipeline destroys the upstream request when the client goes away mid-body.
      else pipeline(req, upstream, () => {});
    });
  }

  function relay(res: ServerResponse, answer: IncomingMessage): void {
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    pipeline(answer, res, () => {});
  }

  async function completeUpload(req: IncomingMessage, res: ServerResponse, parts: Part[]): Promise<void> {
    const chunks: Buffer[] = [];
    let length = 0;
    for await (const chunk of req) {
      length += (chunk as Buffer).length;
      if (length > 4 * 1024 * 1024) return sendError(req, res, fail(400, "MalformedXML", "The XML is too large."));
      chunks.push(chunk as Buffer);
    }
    const body = Buffer.concat(chunks);
    const listed = [...body.toString("utf8").matchAll(/<Part>([\s\S]*?)<\/Part>/g)].map((m) => ({
      number: Number(/<PartNumber>\s*(\d+)\s*<\/PartNumber>/.exec(m[1] ?? "")?.[1]),
      etag: (/<ETag>([^<]*)<\/ETag>/.exec(m[1] ?? "")?.[1] ?? "").replace(/&quot;|"/g, ""),
    }));
    const stored = new Map(parts.map((p) => [p.number, p]));
    for (const [i, part] of listed.entries()) {
      if (i > 0 && part.number <= (listed[i - 1]?.number ?? 0)) {
        return sendError(
          req,
          res,
          fail(
            400,
            "InvalidPartOrder",
            "The list of parts was not in ascending order. The parts list must be specified in order by part number.",
          ),
        );
      }
      const found = stored.get(part.number);
      if (!found || found.etag.replace(/"/g, "") !== part.etag) {
        return sendError(
          req,
          res,
          fail(
            400,
            "InvalidPart",
            "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not have matched the part's entity tag.",
          ),
        );
      }
    }
    // Sizes are checked once every listed part is known to be the one uploaded.
    if (listed.slice(0, -1).some((part) => (stored.get(part.number)?.size ?? 0) < MIN_PART_SIZE)) {
      return sendError(
        req,
        res,
        fail(400, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed object size."),
      );
    }
    relay(res, await forward(req, body));
  }

  function listParts(
    req: IncomingMessage,
    res: ServerResponse,
    bucket: string,
    key: string,
    uploadId: string,
    parts: Part[],
    params: URLSearchParams,
  ): void {
    const marker = Number(params.get("part-number-marker") ?? 0);
    const maxParts = Math.min(Number(params.get("max-parts") ?? 1000) || 1000, 1000);
    const after = parts.filter((p) => p.number > marker);
    const page = after.slice(0, maxParts);
    const truncated = after.length > page.length;
    sendXml(
      req,
      res,
      200,
      `<ListPartsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>${escapeXml(bucket)}</Bucket><Key>${escapeXml(key)}</Key><UploadId>${uploadId}</UploadId>` +
        `<PartNumberMarker>${marker}</PartNumberMarker><NextPartNumberMarker>${page.at(-1)?.number ?? marker}</NextPartNumberMarker><MaxParts>${maxParts}</MaxParts><IsTruncated>${truncated}</IsTruncated><StorageClass>STANDARD</StorageClass>` +
        page
          .map(
            (p) =>
              `<Part><PartNumber>${p.number}</PartNumber><LastModified>${p.lastModified.toISOString()}</LastModified><ETag>&quot;${p.etag.replace(/"/g, "")}&quot;</ETag><Size>${p.size}</Size></Part>`,
          )
          .join("") +
        "</ListPartsResult>",
    );
  }

  /** ListMultipartUploads (s3rver has none): the unfinished uploads under `prefix`, from its upload folder. */
  async function listUploads(
    req: IncomingMessage,
    res: ServerResponse,
    bucket: string,
    params: URLSearchParams,
  ): Promise<void> {
    const prefix = params.get("prefix") ?? "";
    const root = join(options.directory, bucket, "._S3rver_uploads");
    const uploads: { key: string; uploadId: string }[] = [];
    for (const uploadId of await readdir(root).catch(() => [] as string[])) {
      const key = await readFile(join(root, uploadId, "key"), "utf8").catch(() => null);
      if (key?.startsWith(prefix)) uploads.push({ key, uploadId });
    }
    uploads.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    sendXml(
      req,
      res,
      200,
      `<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>${escapeXml(bucket)}</Bucket><Prefix>${escapeXml(prefix)}</Prefix><IsTruncated>false</IsTruncated>` +
        uploads
          .map((u) => `<Upload><Key>${escapeXml(u.key)}</Key><UploadId>${u.uploadId}</UploadId></Upload>`)
          .join("") +
        "</ListMultipartUploadsResult>",
    );
  }

  /**
   * A plain PUT whose body must match a declared digest. The digest is only known once the last
   * byte has passed, and s3rver has stored the object by then: on a mismatch the object is
   * deleted and the client gets S3's 400. Trade-offs against S3, which never commits such a PUT:
   * for that moment the bad object is readable, and a PUT over an existing key loses the old
   * object (the service writes fresh keys, and signs If-None-Match on presigned PUTs).
   */
  async function checkedPut(req: IncomingMessage, res: ServerResponse, bucket: string, key: string): Promise<void> {
    const contentSha = req.headers["x-amz-content-sha256"];
    const hexDigest = typeof contentSha === "string" && /^[0-9a-f]{64}$/.test(contentSha) ? contentSha : null;
    const checksum = options.conditionalPuts ? req.headers["x-amz-checksum-sha256"] : undefined;
    if (options.conditionalPuts && req.headers["if-none-match"] === "*") {
      if (await stat(resourcePath(options.directory, bucket, key, "object")).catch(() => null)) {
        return sendError(
          req,
          res,
          fail(412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold"),
        );
      }
    }
    if (!hexDigest && typeof checksum !== "string") return relay(res, await forward(req));
    const hash = createHash("sha256");
    req.on("data", (chunk: Buffer) => hash.update(chunk));
    const answer = await forward(req);
    if (answer.statusCode !== 200) return relay(res, answer);
    answer.resume();
    const digest = hash.digest();
    const failure =
      hexDigest && digest.toString("hex") !== hexDigest
        ? fail(
            400,
            "XAmzContentSHA256Mismatch",
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
          )
        : typeof checksum === "string" && digest.toString("base64") !== checksum
          ? fail(400, "BadDigest", "The SHA256 you specified did not match the calculated checksum.")
          : null;
    if (!failure) return relay(res, answer);
    await Promise.all(
      ["object", "object.md5", "metadata.json"].map((r) =>
        unlink(resourcePath(options.directory, bucket, key, r)).catch(() => {}),
      ),
    );
    sendError(req, res, failure);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? "GET";
    // CORS preflights carry no credentials, on S3 as here.
    if (method !== "OPTIONS") {
      const failure = await checkSignature({ method, url: req.url ?? "/", headers: req.headers }, options);
      if (failure) return sendError(req, res, failure);
    }
    const [rawPath = "/", rawQuery = ""] = (req.url ?? "/").split(/\?(.*)/s);
    const params = new URLSearchParams(rawQuery);
    const [, bucket = "", ...keyParts] = rawPath.split("/").map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        return s;
      }
    });
    const key = keyParts.join("/");
    const uploadId = params.get("uploadId");
    if (!key && method === "GET" && params.has("uploads")) return listUploads(req, res, bucket, params);
    // Completing and aborting one multipart upload happen one at a time, as S3 and R2 decide them:
    // the second finds the upload gone (NoSuchUpload). s3rver, given two at once, reads part files
    // the other is deleting and fails with an unhandled ENOENT that brings the whole stack down.
    if (key && uploadId !== null && (method === "POST" || method === "DELETE")) {
      return oneAtATime(uploadId, () => multipartRequest(req, res, method, bucket, key, uploadId, params));
    }
    if (key && uploadId !== null) return multipartRequest(req, res, method, bucket, key, uploadId, params);
    if (key && method === "PUT" && !req.headers["x-amz-copy-source"]) {
      return checkedPut(req, res, bucket, key);
    }
    relay(res, await forward(req));
  }

  /** Requests of one multipart upload that must not overlap, chained per upload id. */
  const chains = new Map<string, Promise<void>>();
  function oneAtATime(uploadId: string, task: () => Promise<void>): Promise<void> {
    const run = (chains.get(uploadId) ?? Promise.resolve()).then(task);
    const settled = run.catch(() => {});
    chains.set(uploadId, settled);
    void settled.then(() => {
      if (chains.get(uploadId) === settled) chains.delete(uploadId);
    });
    return run;
  }

  async function multipartRequest(
    req: IncomingMessage,
    res: ServerResponse,
    method: string,
    bucket: string,
    key: string,
    uploadId: string,
    params: URLSearchParams,
  ): Promise<void> {
    const parts = await uploadParts(bucket, key, uploadId);
    if (!parts) {
      return sendError(
        req,
        res,
        fail(
          404,
          "NoSuchUpload",
          "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
        ),
      );
    }
    if (method === "DELETE") {
      await rm(uploadDir(bucket, uploadId), { recursive: true, force: true });
      req.resume();
      res.writeHead(204).end();
      return;
    }
    if (method === "GET") return listParts(req, res, bucket, key, uploadId, parts, params);
    if (method === "POST") return completeUpload(req, res, parts);
    if (method === "PUT" && !req.headers["x-amz-copy-source"]) {
      const partNumber = Number(params.get("partNumber"));
      if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > 10_000) {
        return sendError(
          req,
          res,
          fail(400, "InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive"),
        );
      }
    }
    relay(res, await forward(req));
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (res.headersSent) return void res.destroy();
      sendError(req, res, fail(500, "InternalError", `local S3 front: ${(error as Error).message}`));
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, host, resolve));
  const { port } = server.address() as { port: number };
  return {
    endpoint: `http://${host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
