// A local S3-compatible server (s3rver) with the bucket created. It does not verify request
// signatures: signing is covered by unit tests against AWS's published examples instead.
import { unlink } from "node:fs/promises";
import S3rver from "s3rver";

export type S3Server = { endpoint: string; port: number; bucket: string; close(): Promise<void> };

// s3rver only accepts its built-in access key id (it checks the id, not V4 signatures).
export const LOCAL_S3_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } as const;

export async function startS3Server(options: {
  directory: string;
  bucket: string;
  port?: number;
  host?: string;
}): Promise<S3Server> {
  const host = options.host ?? "127.0.0.1";
  const server = new S3rver({
    port: options.port ?? 0,
    address: host,
    directory: options.directory,
    silent: true,
    configureBuckets: [{ name: options.bucket, configs: [] }],
  });
  tolerateConcurrentDeletes(server);
  const address = await server.run();
  return {
    endpoint: `http://${host}:${address.port}`,
    port: address.port,
    bucket: options.bucket,
    close: () => server.close() as Promise<void>,
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
