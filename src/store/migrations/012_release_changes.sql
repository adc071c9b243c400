-- The console's live board: every change to a release's mirror row is announced on the channel `ferry_releases`
-- (payload: the release id), so an API process learns of it at once without polling the table.
CREATE FUNCTION ferry_announce_release() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('ferry_releases', NEW.id);
  RETURN NEW;
END
$$;
CREATE TRIGGER releases_announce AFTER INSERT OR UPDATE ON releases FOR EACH ROW EXECUTE FUNCTION ferry_announce_release();

-- The GitOps commit's message (title, body, trailers) as the writer made it, for people without repository access.
ALTER TABLE releases ADD COLUMN gitops_message text;
