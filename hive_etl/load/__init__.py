"""Load stages: the build database, bulk inserts, sidecar files, the swap into place."""
