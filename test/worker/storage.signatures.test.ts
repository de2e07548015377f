// The local S3 verifies Signature V4 (devstack/s3-front.ts), as S3 and R2 do: a URL the API hands
// out works as given, and is refused once anything it signs is changed.
import { beforeAll, describe, expect, it } from "vitest";
import { newUser } from "../support/auth";
import { createDocument, download, samplePdf } from "../support/documents";

type User = Awaited<ReturnType<typeof newUser>>;
let alice: User;

beforeAll(async () => {
  alice = await newUser("signatures");
});

describe("a presigned download URL from the API", () => {
  it("serves the bytes as given, and 403 SignatureDoesNotMatch with one character of its signature changed", async () => {
    const bytes = samplePdf("signed");
    const doc = await createDocument(alice.auth, { bytes });
    const { url } = (await (await download(alice.auth, doc.id)).json()) as { url: string };
    const ok = await fetch(url);
    expect(ok.status).toBe(200);
    expect(new Uint8Array(await ok.arrayBuffer())).toEqual(bytes);

    const tampered = new URL(url);
    const signature = tampered.searchParams.get("X-Amz-Signature") as string;
    tampered.searchParams.set("X-Amz-Signature", `${signature.slice(0, -1)}${signature.endsWith("0") ? "1" : "0"}`);
    const refused = await fetch(tampered);
    expect(refused.status).toBe(403);
    expect(await refused.text()).toContain("<Code>SignatureDoesNotMatch</Code>");

    // Asking for another disposition than the one signed is a tampered URL too.
    const disposition = new URL(url);
    disposition.searchParams.set("response-content-disposition", "inline");
    expect((await fetch(disposition)).status).toBe(403);
  });
});
