-- An OLTP API: every statement touches a few hundred rows through indexes. Parallel workers
-- cost more to start than they save (list queries on 100,000 documents: 15-20 ms with workers,
-- 3-6 ms without; see bench/list-plans.md) and compete for cores under concurrent load.
DO $$ BEGIN
  EXECUTE format('ALTER DATABASE %I SET max_parallel_workers_per_gather = 0', current_database());
END $$;
