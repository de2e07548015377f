// A local S3-compatible server (s3rver) with the bucket created. It does not verify request
// signatures: signing is covered by unit tests against AWS's published examples instead.
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
  const address = await server.run();
  return {
    endpoint: `http://${host}:${address.port}`,
    port: address.port,
    bucket: options.bucket,
    close: () => server.close() as Promise<void>,
  };
}
