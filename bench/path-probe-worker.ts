// Routes for bench/path-probe.ts, each doing one part of what an API request does.
import { neon } from "@neondatabase/serverless";
import { Hono } from "hono";
import { jwtVerify, SignJWT } from "jose";
import { useEndpointFor } from "../src/db/neon-endpoint";

const app = new Hono<{ Bindings: { NEON: string } }>();
const key = new TextEncoder().encode("bench-jwt-secret-0123456789abcdef0123456789");
let token: string | undefined;
app.get("/", (c) => c.text("ok"));
app.get("/fetch", async (c) => {
  const r = await fetch(c.env.NEON, {
    method: "POST",
    body: JSON.stringify({ query: "select 1", params: [] }),
    headers: { "content-type": "application/json" },
  });
  return c.text(await r.text());
});
app.get("/neon", async (c) => {
  useEndpointFor("postgresql://a:b@localhost/db", c.env.NEON);
  const sql = neon("postgresql://a:b@localhost/db");
  return c.json(await sql`select 1 as x`);
});
app.get("/jwt", async (c) => {
  token ??= await new SignJWT({})
    .setProtectedHeader({ alg: "HS256" })
    .setSubject("x")
    .setExpirationTime("1h")
    .sign(key);
  await jwtVerify(token, key, { algorithms: ["HS256"] });
  return c.text("ok");
});
export default app;
