// s3rver ships no types; this is the part of its API the local stack uses.
declare module "s3rver" {
  import type { AddressInfo } from "node:net";

  type S3rverOptions = {
    port?: number;
    address?: string;
    directory: string;
    silent?: boolean;
    resetOnClose?: boolean;
    allowMismatchedSignatures?: boolean;
    vhostBuckets?: boolean;
    configureBuckets?: { name: string; configs: (string | Buffer)[] }[];
  };

  export default class S3rver {
    constructor(options: S3rverOptions);
    /** Its file store (internal API; the local stack patches one method of it). */
    store: {
      deleteObject(bucket: string, key: string): Promise<void>;
      getResourcePath(bucket: string, key: string, resource: string): string;
      listObjects(bucket: string, options: unknown): Promise<unknown>;
    };
    run(): Promise<AddressInfo>;
    close(): Promise<void>;
    reset(): void;
  }
}
