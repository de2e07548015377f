// The webhook URL policy (WEBHOOK_ALLOW_PRIVATE_URLS unset, as in production): https:// on a
// public host only. Every refusal is 422 webhook_url_refused and stores nothing. The test
// bindings allow private URLs (deliveries go to a local receiver), so these requests run with
// the production setting through worker.fetch.
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import worker from "../../src/index";
import { signPayload } from "../../src/webhooks/secrets";
import { addressRefusal, checkWebhookUrl } from "../../src/webhooks/url-policy";
import { newUser } from "../support/auth";
import { databaseSnapshot } from "../support/stack";
import { WEBHOOKS } from "../support/webhooks";

let user: Awaited<ReturnType<typeof newUser>>;
beforeAll(async () => {
  user = await newUser("url-policy");
});

async function create(url: string, allowPrivate = "false") {
  const ctx = createExecutionContext();
  const res = await worker.fetch(
    new Request(WEBHOOKS, {
      method: "POST",
      headers: { ...user.auth, "Content-Type": "application/json" },
      body: JSON.stringify({ url }),
    }),
    { ...env, WEBHOOK_ALLOW_PRIVATE_URLS: allowPrivate } as Env,
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return res;
}

const REFUSED = [
  "http://hooks.example.com/x", // plain http
  "ftp://hooks.example.com/x",
  "https://user:pass@hooks.example.com/x", // credentials
  "https://user@hooks.example.com/x",
  "https://localhost/x",
  "https://LOCALHOST./x",
  "https://api.localhost/x",
  "https://127.0.0.1/x",
  "https://127.1/x", // short form
  "https://2130706433/x", // decimal
  "https://0x7f000001/x", // hex
  "https://0177.0.0.1/x", // octal
  "https://0.0.0.0/x",
  "https://10.1.2.3/x",
  "https://172.16.0.1/x",
  "https://172.31.255.255/x",
  "https://192.168.1.1/x",
  "https://100.64.0.1/x", // CGNAT
  "https://169.254.169.254/latest/meta-data", // metadata
  "https://169.254.1.1/x",
  "https://224.0.0.1/x",
  "https://[::1]/x",
  "https://[::]/x",
  "https://[::ffff:127.0.0.1]/x", // IPv4-mapped
  "https://[::ffff:7f00:1]/x",
  "https://[::ffff:169.254.169.254]/x",
  "https://[fd00:ec2::254]/x", // AWS metadata over IPv6
  "https://[fc00::1]/x",
  "https://[fe80::1]/x",
  "https://[64:ff9b::a9fe:a9fe]/x", // NAT64 of 169.254.169.254
  "https://metadata.google.internal/computeMetadata/v1/",
  "https://printer.local/x",
  "https://intranet/x", // single label
  "https://hooks.example.com/x#fragment",
  "not a url",
  "/relative/path",
];

describe("refused", () => {
  it.each(REFUSED)("%s: 422 webhook_url_refused, nothing stored", async (url) => {
    const before = await databaseSnapshot();
    const res = await create(url);
    expect(res.status).toBe(422);
    const problem = (await res.json()) as { code: string; errors: { path: string }[] };
    expect(problem.code).toBe("webhook_url_refused");
    expect(problem.errors[0]?.path).toBe("body.url");
    expect(await databaseSnapshot()).toEqual(before);
  });
});

describe("accepted", () => {
  it.each([
    "https://hooks.example.com/docvault",
    "https://hooks.example.com:8443/a?b=c",
    "https://93.184.215.14/x",
    "https://[2606:4700:4700::1111]/x",
  ])("%s", async (url) => {
    const res = await create(url);
    expect(res.status).toBe(201);
    expect(((await res.json()) as { url: string }).url).toBe(new URL(url).href);
  });

  it("with WEBHOOK_ALLOW_PRIVATE_URLS=true: http:// and private hosts (local development)", async () => {
    for (const url of ["http://127.0.0.1:8080/hook", "http://localhost:3000/x", "https://10.0.0.5/x"]) {
      expect((await create(url, "true")).status, url).toBe(201);
    }
    // Still refused: credentials and schemes other than http(s).
    expect((await create("http://u:p@127.0.0.1/x", "true")).status).toBe(422);
    expect((await create("ftp://127.0.0.1/x", "true")).status).toBe(422);
  });
});

describe("resolved addresses", () => {
  it.each([
    ["127.0.0.1", true],
    ["10.0.0.1", true],
    ["169.254.169.254", true],
    ["::1", true],
    ["::ffff:10.0.0.1", true],
    ["fd00:ec2::254", true],
    ["fe80::1", true],
    ["2002:a9fe:a9fe::", true],
    ["93.184.215.14", false],
    ["2606:4700:4700::1111", false],
  ])("%s refused: %s", (address, refused) => {
    expect(addressRefusal(address) !== null).toBe(refused);
  });

  it("normalises what it accepts", () => {
    expect(checkWebhookUrl("HTTPS://Hooks.Example.COM/a", false)).toBe("https://hooks.example.com/a");
  });
});

describe("signing", () => {
  it("matches the Standard Webhooks specification's example", async () => {
    // From the specification's reference libraries (standard-webhooks/standard-webhooks).
    const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const signature = await signPayload(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, '{"test": 2432232314}');
    expect(signature).toBe("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
  });
});
