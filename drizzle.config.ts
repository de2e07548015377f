import { defineConfig } from "drizzle-kit";

// `drizzle-kit generate` needs no database; `drizzle-kit migrate` (the release job) reads
// DATABASE_URL, Neon's connection string.
export default defineConfig({
  dialect: "postgresql",
  schema: "./src/db/schema.ts",
  out: "./migrations",
  dbCredentials: { url: process.env.DATABASE_URL ?? "" },
  strict: true,
  verbose: true,
});
