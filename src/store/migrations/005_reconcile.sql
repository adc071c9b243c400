-- Issue 6: what Flux said, beyond the release status. flux_outcome tells "applied but unhealthy" (HealthCheckFailed)
-- from "not applied"; flux_clusters holds one verdict per cluster of the environment.
ALTER TABLE releases ADD COLUMN flux_outcome text;
ALTER TABLE releases ADD COLUMN flux_clusters jsonb;
-- Settlement per cluster reads events by cluster and commit.
CREATE INDEX flux_events_cluster_commit ON flux_events (cluster, commit_sha, received_at);
