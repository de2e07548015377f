// A tiny Worker for bench/password-hash.ts: it runs the service's own password code in workerd,
// so the measurement covers the runtime's native scrypt (nodejs_compat), not Node's.
import { hashPassword, verifyPassword } from "../src/auth/password";

const PEPPERS = { current: "KXht8TU7Jdxhxf0KAdvUNKixKwgKKidGcRTnDY2ZdGs=" };
const PEPPER = PEPPERS.current;
let stored: string | undefined;

export default {
  async fetch(request: Request): Promise<Response> {
    const { pathname } = new URL(request.url);
    if (pathname === "/noop") return new Response("ok");
    if (pathname === "/hash") return new Response(await hashPassword("correct horse battery staple", PEPPER));
    stored ??= await hashPassword("correct horse battery staple", PEPPER);
    if (pathname === "/verify") {
      const result = await verifyPassword("correct horse battery staple", stored, PEPPERS);
      return new Response(String(result.ok));
    }
    if (pathname === "/verify-unknown") {
      const result = await verifyPassword("correct horse battery staple", null, PEPPERS);
      return new Response(String(result.ok));
    }
    return new Response("not found", { status: 404 });
  },
};
