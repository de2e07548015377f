// `npm run bench:password`: how long one password hash takes inside workerd on this machine.
// Requests are sent one at a time, so each one's time is the CPU the hash burns (scrypt is
// CPU-bound; no I/O happens), minus the cost of a request that does nothing.
import { fileURLToPath } from "node:url";
import { unstable_startWorker } from "wrangler";

const ROUNDS = Number(process.env.ROUNDS ?? 20);
const entrypoint = fileURLToPath(`${import.meta.url.replace(/[^/]*$/, "")}password-worker.ts`);

const worker = await unstable_startWorker({
  entrypoint,
  compatibilityDate: "2026-11-01",
  compatibilityFlags: ["nodejs_compat"],
  dev: { server: { hostname: "127.0.0.1", port: 0 }, inspector: false, logLevel: "error" },
});
await worker.ready;
const base = await worker.url;

async function measure(path: string): Promise<{ p50: number; mean: number; min: number }> {
  await (await fetch(new URL(path, base))).text(); // warm-up
  const times: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const started = performance.now();
    const res = await fetch(new URL(path, base));
    await res.text();
    times.push(performance.now() - started);
    process.stdout.write(`\r  ${path.padEnd(16)} ${i + 1}/${ROUNDS}`);
  }
  process.stdout.write("\n");
  times.sort((a, b) => a - b);
  const mean = times.reduce((a, b) => a + b, 0) / times.length;
  return { p50: times[Math.floor(times.length / 2)] as number, mean, min: times[0] as number };
}

try {
  console.log(
    `password hashing in workerd (scrypt N=2^14, r=8, p=5 + HMAC pepper), ${ROUNDS} sequential requests each`,
  );
  const noop = await measure("/noop");
  const results = {
    hash: await measure("/hash"),
    verify: await measure("/verify"),
    "verify-unknown": await measure("/verify-unknown"),
  };
  console.log("\noperation        p50 ms   mean ms   (request overhead subtracted)");
  for (const [name, r] of Object.entries(results)) {
    console.log(
      `${name.padEnd(16)} ${(r.p50 - noop.p50).toFixed(1).padStart(6)}   ${(r.mean - noop.mean).toFixed(1).padStart(7)}`,
    );
  }
  console.log(`(request overhead: p50 ${noop.p50.toFixed(2)} ms)`);
} finally {
  await worker.dispose();
}
