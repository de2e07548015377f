// The growth curve: the list, search and content-search scenarios for both caller types on data
// sets of several sizes (one seeded database each, bench/database.ts), so the table shows how a
// page's cost grows with the data. A typical user sees about as many documents at every size, so
// their curve should be flat; the heavy user's visible set grows with the data.
import pg from "pg";
import { type CallerKind, type LoggedInCaller, logIn, pickCallers, undoBenchWrites } from "./callers.ts";
import { benchSize, prepareBenchDatabase } from "./database.ts";
import { serviceBindings, startBenchStack, startWorker } from "./harness.ts";
import { describeResult, type MeasureOptions, measureScenario, type Result, type Scenario } from "./scenarios.ts";
import type { SeedSize } from "./seed.ts";
import type { RunningWorker } from "./workerd.ts";

export const LIST_P99_BUDGET_MS = 50;

/** The list-statement scenarios, per caller type: what the growth curve and the p99 budgets cover. */
export const SEARCHES = [
  { scenario: "list", path: "/api/v1/documents?limit=20" },
  { scenario: "search (q=budget report)", path: "/api/v1/documents?q=budget%20report" },
  { scenario: "content search (q=warranty renewal)", path: "/api/v1/documents?q=warranty%20renewal" },
] as const;

export type GrowthKey = { scenario: string; caller: CallerKind };

export type GrowthRow = GrowthKey & {
  documents: number;
  users: number;
  /** Documents the caller can read on this data set. */
  visible: number;
  rps: number;
  p50: number;
  p99: number;
  roundTrips: number;
};

export type GrowthScenario = Scenario & { growth: GrowthKey };

export function searchScenarios(
  worker: RunningWorker,
  callers: Record<CallerKind, LoggedInCaller>,
  options: { dbCeiling: boolean },
): GrowthScenario[] {
  return (["typical", "heavy"] as const).flatMap((kind) =>
    SEARCHES.map(({ scenario, path }) => ({
      name: `${scenario}, ${kind} user`,
      worker,
      options: { path, headers: callers[kind].auth },
      dbCeiling: options.dbCeiling,
      budget: { maxRoundTrips: 1, maxP99: LIST_P99_BUDGET_MS, ...(options.dbCeiling ? { minDbRatio: 0.7 } : {}) },
      growth: { scenario, caller: kind },
    })),
  );
}

export const growthRow = (
  size: SeedSize,
  caller: { kind: CallerKind; visible: number },
  key: GrowthKey,
  r: Result,
): GrowthRow => ({
  ...key,
  documents: size.documents,
  users: size.users,
  visible: caller.visible,
  rps: r.rps,
  p50: r.p50,
  p99: r.p99,
  roundTrips: r.roundTrips,
});

/** GROWTH_SIZES (documents, comma-separated), default 10,000, 100,000 and 1,000,000. */
export function growthSizes(): SeedSize[] {
  const list = process.env.BENCH_GROWTH_SIZES ?? "10000,100000,1000000";
  return list
    .split(",")
    .filter(Boolean)
    .map((n) => benchSize(Number(n)));
}

/**
 * Measures the search scenarios on one data set in a stack of its own (the local Neon endpoint
 * over that database, the service in a fresh workerd), logging each result.
 */
export async function measureGrowthSize(
  size: SeedSize,
  bundle: string,
  measure: Omit<MeasureOptions, "database" | "databaseUrl">,
  log: (line: string) => void,
): Promise<GrowthRow[]> {
  const databaseUrl = await prepareBenchDatabase(size, log);
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  const stack = await startBenchStack(databaseUrl, { storage: false });
  const worker = await startWorker(bundle, serviceBindings(stack));
  const rows: GrowthRow[] = [];
  let loggedIn: string[] = [];
  try {
    const picked = await pickCallers(client, size);
    loggedIn = [picked.typical.userId, picked.heavy.userId];
    const callers = { typical: await logIn(worker.url, picked.typical), heavy: await logIn(worker.url, picked.heavy) };
    log(
      `growth at ${size.documents.toLocaleString("en")} documents: typical ${picked.typical.email} sees ${picked.typical.visible.toLocaleString("en")}, heavy ${picked.heavy.email} sees ${picked.heavy.visible.toLocaleString("en")}`,
    );
    for (const scenario of searchScenarios(worker, callers, { dbCeiling: false })) {
      const label = `growth ${size.documents.toLocaleString("en")}: ${scenario.name}`;
      const result = await measureScenario(scenario, { ...measure, database: stack.database, databaseUrl });
      log(`${label}: ${describeResult({ ...result, budget: "" })}`);
      rows.push(growthRow(size, picked[scenario.growth.caller], scenario.growth, result));
    }
  } finally {
    await worker.dispose();
    await stack.close();
    if (loggedIn.length) await undoBenchWrites(client, [], loggedIn);
    await client.end();
  }
  return rows;
}

/** The growth table: one row per scenario and caller, req/s and p99 per data-set size. */
export function growthTable(rows: GrowthRow[]): string {
  const sizes = [...new Set(rows.map((r) => r.documents))].sort((a, b) => a - b);
  const keys = [...new Map(rows.map((r) => [`${r.scenario}|${r.caller}`, r])).values()];
  const find = (key: GrowthKey, documents: number) =>
    rows.find((r) => r.scenario === key.scenario && r.caller === key.caller && r.documents === documents);
  const visible = (caller: CallerKind) =>
    sizes.map((d) => rows.find((r) => r.caller === caller && r.documents === d)?.visible.toLocaleString("en") ?? "—");
  return [
    `| scenario, caller | ${sizes.map((d) => `${d.toLocaleString("en")} docs: req/s | p99 ms`).join(" | ")} |`,
    `|---|${sizes.map(() => "---|---|").join("")}`,
    `| documents visible, typical user | ${visible("typical").join(" | | ")} | |`,
    `| documents visible, heavy user | ${visible("heavy").join(" | | ")} | |`,
    ...keys.map(
      (k) =>
        `| ${k.scenario}, ${k.caller} user | ${sizes
          .map((d) => {
            const r = find(k, d);
            return r ? `${r.rps} | ${r.p99}` : "— | —";
          })
          .join(" | ")} |`,
    ),
  ].join("\n");
}
