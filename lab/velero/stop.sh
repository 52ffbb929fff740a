#!/usr/bin/env bash
# Stop the lab's MinIO host process (by its pid file). Velero itself lives in the
# cluster and goes away with it; nothing else runs on the host.
exec "$(dirname "$0")/minio.sh" stop
