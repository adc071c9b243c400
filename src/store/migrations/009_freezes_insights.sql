-- Freezes started by people ("stop the line"), beside the windows configured in FERRY_CONFIG. env NULL freezes every
-- environment. A freeze holds while ended_at is NULL and `until` (when given) is in the future; ended ones are kept
-- as the record of who froze what, and who lifted it.
CREATE TABLE freezes (
  id          bigserial PRIMARY KEY,
  env         text,
  reason      text NOT NULL,
  -- created_by is the actor for audit; created_by_name the identity, so the person who froze may lift it.
  created_by  text NOT NULL,
  created_by_name text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  until       timestamptz,
  ended_at    timestamptz,
  ended_by    text
);
-- The gate asks "is anything holding env X (or all) now?" on every release: a scan of the open freezes only.
CREATE INDEX freezes_open ON freezes (env) WHERE ended_at IS NULL;
CREATE INDEX freezes_created ON freezes (created_at DESC, id DESC);

-- DORA lead time starts at the source commit's time, which CI sends as version.created (unix seconds from Gimlet's
-- clients; milliseconds or an ISO date-time are accepted too). Kept as a column so the figures need no JSON parsing.
ALTER TABLE artifacts ADD COLUMN source_created_at timestamptz;
DO $$
DECLARE a record;
BEGIN
  FOR a IN SELECT id, body->'version'->>'created' AS c FROM artifacts WHERE body->'version' ? 'created' LOOP
    BEGIN
      UPDATE artifacts SET source_created_at = CASE
        WHEN a.c ~ '^\d+(\.\d+)?$' THEN to_timestamp(a.c::double precision / CASE WHEN a.c::double precision > 1e11 THEN 1000 ELSE 1 END)
        ELSE a.c::timestamptz END
      WHERE id = a.id;
    EXCEPTION WHEN others THEN
      -- Not a time: the artifact simply has no lead time.
      NULL;
    END;
  END LOOP;
END $$;

-- Each release keeps its artifact's source commit time too, so the DORA figures read one table: joining every release
-- of a window to its artifact cost more than the rest of the statement. Copied when the row is first written.
ALTER TABLE releases ADD COLUMN source_created_at timestamptz;
CREATE FUNCTION releases_source_created_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.source_created_at IS NULL THEN
    SELECT a.source_created_at INTO NEW.source_created_at FROM artifacts a WHERE a.id = NEW.artifact_id;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER releases_source_created_at BEFORE INSERT ON releases FOR EACH ROW EXECUTE FUNCTION releases_source_created_at();
UPDATE releases r SET source_created_at = a.source_created_at FROM artifacts a WHERE a.id = r.artifact_id AND a.source_created_at IS NOT NULL;

-- A release changed its environment when it committed (a "nothing to commit" success did not). The timeline says so;
-- a stored generated column makes that a plain boolean for the DORA queries and fills itself for old rows.
ALTER TABLE releases ADD COLUMN changed boolean GENERATED ALWAYS AS (timeline @> '[{"status": "committed"}]'::jsonb) STORED;
-- DORA windows select finished releases by finish time, per app and env, per env, or over everything.
CREATE INDEX releases_finished ON releases (finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX releases_env_finished ON releases (env, finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX releases_app_env_finished ON releases (app, env, finished_at) WHERE finished_at IS NOT NULL;
-- "Was this release rolled back?"
CREATE INDEX releases_rollback_of ON releases (rollback_of) WHERE rollback_of IS NOT NULL;
