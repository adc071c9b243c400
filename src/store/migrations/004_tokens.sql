-- API tokens: only a digest of the secret is kept; the token itself is shown once, when it is created.
CREATE TABLE api_tokens (
  id            text PRIMARY KEY,
  name          text NOT NULL,
  owner         text NOT NULL,
  role          text NOT NULL CHECK (role IN ('ci', 'deployer', 'approver', 'admin')),
  envs          text[],                 -- NULL: every environment
  secret_hash   text NOT NULL,
  created_by    text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz,
  revoked_at    timestamptz,
  revoked_by    text,
  last_used_at  timestamptz
);
-- A name points at one live token, so "revoke shop-ci" is never ambiguous.
CREATE UNIQUE INDEX api_tokens_live_name ON api_tokens (name) WHERE revoked_at IS NULL;

-- Who stored each artifact (the actor, and the token id when a token was used).
ALTER TABLE artifacts ADD COLUMN created_by text, ADD COLUMN created_by_token text;
-- "Latest artifact of app X on branch B" (ferry release --branch) and Gimlet's artifact list filter on this.
CREATE INDEX artifacts_environments ON artifacts USING gin ((body -> 'environments') jsonb_path_ops);
CREATE INDEX artifacts_branch_created ON artifacts (branch, created_at DESC);
