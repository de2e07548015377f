-- No JIT compilation: it is compiled again for every execution and an OLTP statement never
-- repays it. PostgreSQL decides by the plan's estimated cost (jit_above_cost), and the list
-- statements of a caller who sees 120,000 documents pass it: on the 1,000,000-document bench
-- database, EXPLAIN ANALYZE showed 444 ms of compilation in a 2.0 s content_type filter and 725 ms
-- in a 2.7 s combined filter (1.5 s and 2.3 s without), nothing gained anywhere else. Set for the
-- database, like migration 0003, so every connection (Neon's pooled HTTP ones included) has it.
DO $$ BEGIN
  EXECUTE format('ALTER DATABASE %I SET jit = off', current_database());
END $$;
