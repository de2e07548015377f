// Runs a bundled Worker in workerd itself, from a generated config: one worker service, one HTTP
// socket, and the network as its global outbound — the shape of a Worker in production.
// Miniflare (5) puts two JavaScript workers of its own in the same workerd thread: an entry
// worker in front of every request (dev headers, pretty errors, live reload) and an outbound
// interceptor behind every subrequest (it copies the headers to add CF-Worker). Each database
// round trip is a subrequest, so measuring through Miniflare charged the service for both.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { basename, dirname, join } from "node:path";
import getPort from "get-port";

// The package is CommonJS exporting the binary's path as `default`; require() reads it the same
// way under tsx and under Vitest's module loader, which disagree on default-import interop.
const workerdPath = (createRequire(import.meta.url)("workerd") as { default: string }).default;

/** The name the Worker's module has inside workerd (stack frames and profiles show it). */
export const MODULE_NAME = "worker.js";

export type RunningWorker = {
  url: string;
  pid: number;
  /** CPU time workerd has used so far (user + system), in ms; undefined without Linux's /proc. */
  cpuMs(): number | undefined;
  /** workerd's resident memory now and at its peak (VmRSS, VmHWM), in bytes; undefined without /proc. */
  memory(): { rss: number; peak: number } | undefined;
  dispose(): Promise<void>;
};

let clockTicks: number | undefined;
/** The unit of /proc's CPU times (USER_HZ). */
function clockTicksPerSecond(): number {
  clockTicks ??= Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  return clockTicks;
}
/** A process's line of /proc/<pid>/stat: its command, parent, and CPU times in ms. */
export type ProcessStat = { command: string; ppid: number; cpuMs: number; reapedChildrenCpuMs: number };

/** /proc/<pid>/stat, or undefined when the process is gone (or there is no /proc). */
export function processStat(pid: number): ProcessStat | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command (field 2) may hold spaces; count fields after its closing parenthesis: state,
    // ppid, …, utime (11), stime, cutime, cstime.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ms = (ticks: number) => (ticks * 1000) / clockTicksPerSecond();
    return {
      command: stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")),
      ppid: Number(fields[1]),
      cpuMs: ms(Number(fields[11]) + Number(fields[12])),
      reapedChildrenCpuMs: ms(Number(fields[13]) + Number(fields[14])),
    };
  } catch {
    return undefined;
  }
}

/** VmRSS and VmHWM of a process from /proc/<pid>/status, in bytes. */
export function processMemory(pid: number): { rss: number; peak: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kib = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1]) * 1024;
    const memory = { rss: kib("VmRSS"), peak: kib("VmHWM") };
    return Number.isFinite(memory.rss) && Number.isFinite(memory.peak) ? memory : undefined;
  } catch {
    return undefined;
  }
}

/** A capnp text literal: JSON's escapes for ASCII text are valid capnp escapes. */
function capnpString(value: string): string {
  // The value itself stays out of the message: bindings hold secrets.
  if (!/^[\x20-\x7e]*$/.test(value)) throw new Error("binding names and values must be printable ASCII");
  return JSON.stringify(value);
}

export function workerdConfig(options: {
  script: string;
  bindings: Record<string, string>;
  compatibilityDate: string;
  compatibilityFlags: string[];
  /** V8's own flags, e.g. `--max-old-space-size=64` to cap the JavaScript heap (MiB). */
  v8Flags?: string[];
  /**
   * Rate Limiting bindings (wrangler.toml's [[ratelimits]]), each a stub whose `limit()` allows
   * every request: the bench measures the service, not its budgets. In production the binding is
   * part of the runtime, called in the isolate; here it is a wrapped binding (an extension module
   * instantiated in the Worker's own isolate), not a service Worker reached over RPC, whose
   * second isolate and serialisation would be charged to the Worker's CPU (DESIGN.md, "Performance").
   */
  rateLimits?: string[];
}): string {
  const rateLimits = options.rateLimits ?? [];
  const bindings = [
    ...Object.entries(options.bindings).map(
      ([name, value]) => `(name = ${capnpString(name)}, text = ${capnpString(value)})`,
    ),
    ...rateLimits.map((name) => `(name = ${capnpString(name)}, wrapped = (moduleName = "docvault-bench:ratelimit"))`),
  ].join(",\n      ");
  const stub = "export default function () { return { async limit() { return { success: true }; } }; }";
  const extensions =
    rateLimits.length > 0
      ? `\n  extensions = [(modules = [(name = "docvault-bench:ratelimit", esModule = ${capnpString(stub)}, internal = true)])],`
      : "";
  const flags = options.compatibilityFlags.map(capnpString).join(", ");
  const v8Flags = (options.v8Flags ?? []).map(capnpString).join(", ");
  return `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
    # Loopback and private addresses too: the local database endpoint and s3rver live there.
    (name = "internet", network = (allow = ["public", "private", "local"])),
  ],
  sockets = [(name = "http", address = "127.0.0.1:0", http = (), service = "main")],
  v8Flags = [${v8Flags}],${extensions}
);

const worker :Workerd.Worker = (
  modules = [(name = ${capnpString(MODULE_NAME)}, esModule = embed ${capnpString(basename(options.script))})],
  compatibilityDate = ${capnpString(options.compatibilityDate)},
  compatibilityFlags = [${flags}],
  bindings = [
      ${bindings}
  ],
  globalOutbound = "internet",
);
`;
}

// workerd processes still running; they go when this process exits, however it exits.
const running = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => process.exit(signal === "SIGINT" ? 130 : 143));
}

/** Starts workerd on a free loopback port and resolves once it answers HTTP. */
export async function startWorkerd(
  script: string,
  bindings: Record<string, string>,
  options: {
    inspectorPort?: number;
    compatibilityDate?: string;
    compatibilityFlags?: string[];
    v8Flags?: string[];
    rateLimits?: string[];
  } = {},
): Promise<RunningWorker> {
  const configPath = join(dirname(script), `${basename(script, ".js")}.capnp`);
  await writeFile(
    configPath,
    workerdConfig({
      script,
      bindings,
      compatibilityDate: options.compatibilityDate ?? "2026-11-01",
      compatibilityFlags: options.compatibilityFlags ?? ["nodejs_compat"],
      v8Flags: options.v8Flags,
      rateLimits: options.rateLimits,
    }),
  );
  const port = await getPort({ host: "127.0.0.1" });
  const args = ["serve", configPath, "--socket-addr", `http=127.0.0.1:${port}`, "--experimental"];
  if (options.inspectorPort) args.push("--inspector-addr", `127.0.0.1:${options.inspectorPort}`);
  // Output through pipes, not inherited descriptors: a workerd left behind must not hold the
  // caller's stdout open (a `| grep` would wait for it forever).
  const child: ChildProcess = spawn(workerdPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  running.add(child);
  child.stdout?.on("data", (chunk: Buffer) => process.stdout.write(chunk));
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
    if (stderr.length > 64 * 1024) stderr = stderr.slice(-32 * 1024);
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => {
      running.delete(child);
      resolve(code);
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  for (let attempt = 0; ; attempt++) {
    const status = await Promise.race([exited.then((code) => ({ exited: code })), fetch(url).catch(() => null)]);
    if (status && "exited" in status) throw new Error(`workerd exited (${status.exited}): ${stderr}`);
    if (status) {
      await status.arrayBuffer();
      break;
    }
    if (attempt > 200) throw new Error(`workerd did not answer on ${url}: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    pid: child.pid as number,
    cpuMs: () => processStat(child.pid as number)?.cpuMs,
    memory: () => processMemory(child.pid as number),
    async dispose() {
      if (child.exitCode !== null) return;
      child.kill("SIGTERM");
      await exited;
    },
  };
}
