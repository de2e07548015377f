// Where a scenario's CPU goes on this one machine: workerd (the Worker), this Node process (the
// local Neon endpoint, s3rver and autocannon's thread; for a database ceiling, the `pg` client)
// and PostgreSQL's processes. With every part on the same two cores, a request costs their sum,
// so the service cannot serve more than cores × 1000 / that sum per second: the split explains a
// low ratio to the database ceiling, whose replay pays only PostgreSQL and a thin client.
import { readdirSync } from "node:fs";
import { type ProcessStat, processStat } from "./workerd.ts";

/**
 * CPU time (ms) PostgreSQL has used: every live process named `postgres` (utime + stime), plus
 * the children the postmaster has reaped (its cutime + cstime), so a backend that exits between
 * two readings (a pool closing its connections) keeps counting instead of taking its whole
 * lifetime's CPU out of the sum. Undefined when no PostgreSQL runs here (a remote server).
 */
export function postgresCpuMs(): number | undefined {
  const processes = new Map<number, ProcessStat>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = processStat(Number(entry)); // undefined: it ended between the listing and the read
    if (stat?.command === "postgres") processes.set(Number(entry), stat);
  }
  if (processes.size === 0) return undefined;
  let total = 0;
  for (const p of processes.values()) {
    total += p.cpuMs;
    // The postmaster: the one postgres process whose parent is not one.
    if (!processes.has(p.ppid)) total += p.reapedChildrenCpuMs;
  }
  return total;
}

/** This process's CPU time (ms), all its threads. */
export const nodeCpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

/** CPU ms per request by part; null where a part could not be read. */
export type CpuSplit = { workerd: number | null; node: number; postgres: number | null };

export type CpuMark = { workerd: number | undefined; node: number; postgres: number | undefined };

export function cpuMark(workerd?: () => number | undefined): CpuMark {
  return { workerd: workerd?.(), node: nodeCpuMs(), postgres: postgresCpuMs() };
}

/** Per-request CPU between two marks. */
export function cpuSplit(before: CpuMark, after: CpuMark, requests: number): CpuSplit | null {
  if (requests <= 0) return null;
  const per = (a: number | undefined, b: number | undefined) =>
    a === undefined || b === undefined ? null : Number(((b - a) / requests).toFixed(3));
  return {
    workerd: per(before.workerd, after.workerd),
    node: per(before.node, after.node) as number,
    postgres: per(before.postgres, after.postgres),
  };
}

/** The parts' sum, ms per request (parts not read count as 0). */
export const cpuTotal = (split: CpuSplit) => (split.workerd ?? 0) + split.node + (split.postgres ?? 0);
