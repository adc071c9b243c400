-- Artifacts: what CI shipped, kept whole. body_hash tells an identical re-push from a conflicting one.
CREATE TABLE artifacts (
  id          text PRIMARY KEY,
  repository  text NOT NULL,
  sha         text NOT NULL,
  branch      text NOT NULL DEFAULT '',
  event       text NOT NULL,
  tag         text,
  body        jsonb NOT NULL,
  body_hash   text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX artifacts_repository_sha ON artifacts (repository, sha);
CREATE INDEX artifacts_created ON artifacts (created_at DESC, id DESC);

-- Releases: the mirror of each release workflow's state, so the API answers without a worker.
CREATE TABLE releases (
  id             text PRIMARY KEY,
  app            text NOT NULL,
  env            text NOT NULL,
  artifact_id    text NOT NULL REFERENCES artifacts (id),
  sha            text NOT NULL,
  branch         text NOT NULL DEFAULT '',
  trigger        text NOT NULL,
  released_by    text NOT NULL,
  status         text NOT NULL,
  gitops_commit  text,
  flux_status    text,
  error          text,
  timeline       jsonb NOT NULL DEFAULT '[]',
  run_id         text,
  seq            integer NOT NULL DEFAULT 0,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX releases_app_env_created ON releases (app, env, created_at DESC, id DESC);
CREATE INDEX releases_created ON releases (created_at DESC, id DESC);
CREATE INDEX releases_gitops_commit ON releases (gitops_commit);
-- Flux settlement looks only at releases still waiting on a commit.
CREATE INDEX releases_waiting ON releases (created_at) WHERE status = 'reconciling' AND gitops_commit IS NOT NULL;

-- Rendered manifests travel through the database, not through Temporal payloads (which cap at a few MB).
CREATE TABLE release_renders (
  release_id  text PRIMARY KEY,
  files       jsonb NOT NULL,
  digest      text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- Every verified Flux event, so a release that starts waiting late still sees what already happened.
CREATE TABLE flux_events (
  id           bigserial PRIMARY KEY,
  body_hash    text NOT NULL UNIQUE,
  cluster      text,
  kind         text NOT NULL,
  namespace    text NOT NULL,
  name         text NOT NULL,
  severity     text NOT NULL,
  reason       text NOT NULL,
  revision     text,
  commit_sha   text,
  outcome      text NOT NULL,
  message      text NOT NULL DEFAULT '',
  event_time   timestamptz,
  received_at  timestamptz NOT NULL DEFAULT now(),
  body         jsonb NOT NULL
);
CREATE INDEX flux_events_commit ON flux_events (commit_sha, received_at DESC);
CREATE INDEX flux_events_received ON flux_events (received_at DESC);
