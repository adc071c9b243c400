-- Tokens limited to repositories and apps (`acme/*`); NULL: any.
ALTER TABLE api_tokens ADD COLUMN repos text[], ADD COLUMN apps text[];

-- Who pushed each artifact, as a principal (id, grants, scopes): an auto-release acts with exactly these rights.
ALTER TABLE artifacts ADD COLUMN pushed_by jsonb;
-- "Is this sha already stored for another repository?" is asked on every push.
CREATE INDEX artifacts_sha ON artifacts (sha);

-- The principal behind each release (the pusher of an auto-release, the person asking for a promotion): four-eyes
-- compares its id, and an automatic promotion of the release acts with its rights.
CREATE TABLE release_principals (
  release_id   text PRIMARY KEY,
  principal    jsonb NOT NULL,
  recorded_at  timestamptz NOT NULL DEFAULT now()
);

-- Preview apps as they were started, with the repository and branch whose artifact created them: a branch
-- deletion removes these and nothing else.
CREATE TABLE preview_apps (
  env          text NOT NULL,
  app          text NOT NULL,
  repository   text NOT NULL,
  branch       text NOT NULL,
  source_app   text NOT NULL,
  artifact_id  text NOT NULL,
  release_id   text NOT NULL,
  created_by   text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (repository, branch, env, app)
);
