-- One row per GitOps repository+branch: the fencing token of the writer lease (see src/store/writer-lease.ts).
-- The lock itself is a PostgreSQL advisory lock held by the writer's session; the token only ever grows.
CREATE TABLE gitops_write_leases (
  repo_key     text PRIMARY KEY,
  token        bigint NOT NULL,
  holder       text NOT NULL,
  acquired_at  timestamptz NOT NULL DEFAULT now()
);
