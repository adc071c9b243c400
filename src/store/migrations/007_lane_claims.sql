-- The ordering lanes' fast path (src/store/lane-claims.ts, activities/lane-activities.ts): while only one release of
-- an app in an env is in flight, its claim here is the whole lane and no lane workflow runs. A second release
-- escalates the lane: every member is handed, oldest first, to the lane workflow, which orders them from then on,
-- until the last member leaves.
CREATE TABLE lanes (
  lane       text PRIMARY KEY,
  escalated  boolean NOT NULL DEFAULT false
);

-- The releases in flight in a lane, in the order they joined. One run per release: a newer run replaces an older.
CREATE TABLE lane_members (
  lane        text NOT NULL REFERENCES lanes (lane),
  release_id  text NOT NULL,
  run_id      text NOT NULL,
  ordering    text NOT NULL,
  -- true once the lane workflow knows this member (it was joined or handed over while the lane was escalated)
  enqueued    boolean NOT NULL DEFAULT false,
  seq         bigserial,
  joined_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (lane, release_id)
);
