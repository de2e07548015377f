// The presigned GET every download hands out (account downloads and share links alike): the exact
// stored bytes as an attachment, under the RFC 6266 file name and the recorded content type.
import type { ObjectStorage } from "../storage/object-storage";
import { contentDisposition } from "./file-names";

export async function presignDownload(
  storage: ObjectStorage,
  version: { storageKey: string; fileName: string; contentType: string },
  ttlSeconds: number,
): Promise<{ url: string; expiresAt: string }> {
  const expiresAt = new Date(Date.now() + ttlSeconds * 1000).toISOString();
  const url = await storage.presign("GET", version.storageKey, {
    expiresInSeconds: ttlSeconds,
    query: {
      "response-content-disposition": contentDisposition(version.fileName),
      "response-content-type": version.contentType,
    },
  });
  return { url, expiresAt };
}
