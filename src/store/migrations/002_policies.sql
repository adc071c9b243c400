-- Release policies set through the API (server-wide branch restrictions live in configuration, not here).
-- One policy per kind, app and environment; the id is '<kind>:<app>:<env>'.
CREATE TABLE policies (
  id          text PRIMARY KEY,
  kind        text NOT NULL CHECK (kind IN ('auto-release', 'branch-restriction')),
  app         text NOT NULL,
  env         text NOT NULL,
  spec        jsonb NOT NULL,
  created_by  text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_by  text NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (kind, app, env)
);
CREATE INDEX policies_app ON policies (app, env);

-- Who changed which policy when, deletions included: the policies table only holds the current state.
CREATE TABLE policy_changes (
  id          bigserial PRIMARY KEY,
  policy_id   text NOT NULL,
  action      text NOT NULL CHECK (action IN ('created', 'updated', 'deleted')),
  policy      jsonb NOT NULL,
  changed_by  text NOT NULL,
  changed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX policy_changes_policy ON policy_changes (policy_id, changed_at DESC);

-- What the artifact workflow decided for each environment file of an artifact ("why didn't my artifact deploy?").
CREATE TABLE artifact_decisions (
  artifact_id  text NOT NULL REFERENCES artifacts (id),
  app          text NOT NULL,
  env          text NOT NULL,
  release_app  text NOT NULL,
  matched      boolean NOT NULL,
  refused      boolean NOT NULL DEFAULT false,
  source       text,
  reasons      jsonb NOT NULL,
  release_id   text,
  decided_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (artifact_id, app, env)
);

-- Per-environment template variables kept by Ferry; they override CI variables, never the built-in ones.
CREATE TABLE environment_vars (
  env         text NOT NULL,
  name        text NOT NULL,
  value       text NOT NULL,
  updated_by  text NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (env, name)
);
