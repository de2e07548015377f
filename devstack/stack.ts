// Starts the local stack the Worker needs: a Neon-protocol SQL endpoint (PGlite or a real
// PostgreSQL) with migrations applied, and an S3-compatible server with the bucket created
// (s3rver behind a front that verifies Signature V4: devstack/s3-front.ts).
// Used by `npm run dev` (persistent, under .local/) and by the test suite (in memory, temporary).

import { migrate } from "./migrate.ts";
import { type NeonHttpServer, startNeonHttpServer } from "./neon-http-server.ts";
import { LOCAL_S3_CREDENTIALS, LOCAL_S3_REGION, type S3Server, startS3Server } from "./s3-server.ts";
import { PgliteBackend, PostgresBackend, type SqlBackend } from "./sql-backend.ts";

export type LocalStack = {
  backend: SqlBackend;
  database: NeonHttpServer;
  storage: S3Server;
  /** Bindings that wire a Worker to this stack. */
  bindings: Record<string, string>;
  close(): Promise<void>;
};

export type StackOptions = {
  /** PGlite data directory; undefined keeps the database in memory. Ignored with postgresUrl. */
  pgliteDir?: string;
  /** A real PostgreSQL server to use instead of PGlite. */
  postgresUrl?: string;
  s3Directory: string;
  bucket?: string;
  databasePort?: number;
  storagePort?: number;
  log?: (line: string) => void;
};

// The connection string is what Neon's driver sends in `Neon-Connection-String`; the local
// endpoint serves one database whatever it names.
export const LOCAL_DATABASE_URL = "postgresql://local:local@localhost:5432/docvault";

export async function startLocalStack(options: StackOptions): Promise<LocalStack> {
  const log = options.log ?? (() => {});
  const backend: SqlBackend = options.postgresUrl
    ? new PostgresBackend(options.postgresUrl)
    : await PgliteBackend.open(options.pgliteDir);
  const started: { close(): Promise<void> }[] = [backend];
  try {
    log(`database: ${backend.name}${options.pgliteDir && !options.postgresUrl ? ` in ${options.pgliteDir}` : ""}`);
    const applied = await migrate(backend, log);
    log(`migrations: ${applied} applied`);
    const database = await startNeonHttpServer(backend, { port: options.databasePort });
    started.unshift(database);
    const bucket = options.bucket ?? "documents";
    // Conditional PUTs as S3 and R2 enforce them: the service signs If-None-Match and the declared
    // x-amz-checksum-sha256 into direct-upload URLs and relies on the store to refuse.
    const storage = await startS3Server({
      directory: options.s3Directory,
      bucket,
      port: options.storagePort,
      conditionalPuts: true,
    });
    started.unshift(storage);
    log(`storage: s3rver behind a Signature V4 checking front at ${storage.endpoint}, bucket "${bucket}"`);
    return {
      backend,
      database,
      storage,
      bindings: {
        DATABASE_URL: LOCAL_DATABASE_URL,
        NEON_HTTP_ENDPOINT: database.url,
        S3_ENDPOINT: storage.endpoint,
        S3_BUCKET: bucket,
        S3_REGION: LOCAL_S3_REGION,
        S3_ACCESS_KEY_ID: LOCAL_S3_CREDENTIALS.accessKeyId,
        S3_SECRET_ACCESS_KEY: LOCAL_S3_CREDENTIALS.secretAccessKey,
      },
      close: () => closeAll(started),
    };
  } catch (error) {
    await closeAll(started);
    throw error;
  }
}

async function closeAll(parts: { close(): Promise<void> }[]): Promise<void> {
  for (const part of parts) await part.close().catch(() => {});
}
