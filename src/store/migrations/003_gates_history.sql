-- Gates, ordering, promotion and rollback (issue 4): decisions and waits on each release, and indexes for history.
ALTER TABLE releases
  ADD COLUMN decisions     jsonb NOT NULL DEFAULT '[]',
  ADD COLUMN waiting       jsonb,
  ADD COLUMN rollback_of   text,
  ADD COLUMN promoted_from text,
  ADD COLUMN finished_at   timestamptz;

-- History (GET /api/releases) pages newest first by (created_at, id) under any mix of app, env and status filters;
-- each combination has an index whose order is the page order, so a page is one index range scan.
-- (app, env) and no filter are covered by 001's releases_app_env_created and releases_created.
CREATE INDEX releases_app_created        ON releases (app, created_at DESC, id DESC);
CREATE INDEX releases_env_created        ON releases (env, created_at DESC, id DESC);
CREATE INDEX releases_status_created     ON releases (status, created_at DESC, id DESC);
CREATE INDEX releases_app_status_created ON releases (app, status, created_at DESC, id DESC);
CREATE INDEX releases_env_status_created ON releases (env, status, created_at DESC, id DESC);
CREATE INDEX releases_app_env_status_created ON releases (app, env, status, created_at DESC, id DESC);

-- Status, promotion and rollback ask "what runs in app/env now, and what ran before": successful releases by
-- the time they finished. (With FERRY_AWAIT_FLUX=false a finished `committed` release is a success.)
CREATE INDEX releases_successful ON releases (app, env, finished_at DESC, id DESC)
  WHERE status = 'succeeded' OR (status = 'committed' AND finished_at IS NOT NULL);
-- Releases still in flight per app/env.
CREATE INDEX releases_in_flight ON releases (app, env, created_at) WHERE finished_at IS NULL;

-- Releases that ended before this migration ended when they were last updated.
UPDATE releases SET finished_at = updated_at WHERE status IN ('succeeded', 'failed', 'timed-out') AND finished_at IS NULL;
