// The local S3: s3rver with the bucket created, behind a front (s3-front.ts) that verifies
// every request's Signature V4 and adds what s3rver lacks (AbortMultipartUpload, ListParts, the
// multipart part rules). Clients only ever see the front's endpoint.
import { unlink } from "node:fs/promises";
import S3rver from "s3rver";
import { startS3Front } from "./s3-front.ts";

export type S3Server = {
  endpoint: string;
  port: number;
  bucket: string;
  /** s3rver's directory (the front reads multipart parts there; tests look at it). */
  directory: string;
  close(): Promise<void>;
};

// s3rver's built-in account; the front accepts only this key, and checks signatures with it.
export const LOCAL_S3_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } as const;
export const LOCAL_S3_REGION = "us-east-1";

export async function startS3Server(options: {
  directory: string;
  bucket: string;
  port?: number;
  host?: string;
  /**
   * Enforce a PUT's `If-None-Match: *` and `x-amz-checksum-sha256` as S3 and R2 do. Off in the
   * dev and test stack until the tests that count on s3rver storing such PUTs change (see
   * test/worker/storage.hardening.test.ts and uploads.test.ts).
   */
  conditionalPuts?: boolean;
}): Promise<S3Server> {
  const host = options.host ?? "127.0.0.1";
  // s3rver itself listens on a free loopback port that nothing but the front uses.
  const server = new S3rver({
    port: 0,
    address: "127.0.0.1",
    directory: options.directory,
    silent: true,
    configureBuckets: [{ name: options.bucket, configs: [] }],
  });
  tolerateConcurrentDeletes(server);
  const address = await server.run();
  const front = await startS3Front({
    upstream: { host: "127.0.0.1", port: address.port },
    directory: options.directory,
    credentials: { [LOCAL_S3_CREDENTIALS.accessKeyId]: LOCAL_S3_CREDENTIALS.secretAccessKey },
    region: LOCAL_S3_REGION,
    host,
    port: options.port,
    conditionalPuts: options.conditionalPuts,
  }).catch(async (error: unknown) => {
    await server.close();
    throw error;
  });
  return {
    endpoint: front.endpoint,
    port: front.port,
    bucket: options.bucket,
    directory: options.directory,
    close: async () => {
      await front.close();
      await server.close();
    },
  };
}

/**
 * s3rver keeps objects as files in folders and, after deleting one, removes the folders left
 * empty. That races with anything else in the same folder: two deletes at once (its
 * DeleteObjects runs every key concurrently) both find it empty and the second rmdir fails
 * (500 although every object is gone), and a PUT that has just created the folder loses it
 * before opening its file (ENOENT on an unhandled stream error, which ends the server). S3 and
 * R2 have no folders, so the local store keeps them: a delete only removes the object's files.
 * Likewise a listing walks the folders synchronously while deletes unlink files on other
 * threads, and fails with ENOENT on a file that went away meanwhile: S3 lists consistently, so
 * the walk is retried here.
 */
function tolerateConcurrentDeletes(server: S3rver): void {
  const store = server.store;
  store.deleteObject = async (bucket, key) => {
    await Promise.all(
      ["object", "object.md5", "metadata.json"].map((resource) =>
        unlink(store.getResourcePath(bucket, key, resource)).catch((error: { code?: string }) => {
          if (error.code !== "ENOENT") throw error;
        }),
      ),
    );
  };
  const listObjects = store.listObjects.bind(store);
  store.listObjects = async (bucket, options) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await listObjects(bucket, options);
      } catch (error) {
        if ((error as { code?: string }).code !== "ENOENT" || attempt === 5) throw error;
      }
    }
  };
}
