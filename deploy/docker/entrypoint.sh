#!/bin/sh
# Entrypoint of every DocuMind image: prepare what the Python process cannot, then exec CMD.
#
# Prometheus (docs/design.md rule 9): prometheus_client picks its multiprocess mode when it is first
# imported, and Dramatiq's exposition server (a fork of the main process) reads its database
# folder and port from the environment it was started with. Both must therefore be set before
# Python starts; they are derived here from DOCUMIND_METRICS_DIR and DOCUMIND_METRICS_PORT.
# The folder is emptied so a restarted container does not serve the counters of its last run.
#
# Liveness: a stale file left by a killed worker must not pass the health check before the new
# worker has booted.
set -eu

if [ "${DOCUMIND_METRICS_PORT:-0}" != "0" ]; then
    metrics_dir="${DOCUMIND_METRICS_DIR:-/tmp/documind-prometheus}"
    mkdir -p "$metrics_dir"
    find "$metrics_dir" -mindepth 1 -delete
    export DOCUMIND_METRICS_DIR="$metrics_dir"
    export PROMETHEUS_MULTIPROC_DIR="$metrics_dir"
    export dramatiq_prom_db="$metrics_dir"
    export dramatiq_prom_port="$DOCUMIND_METRICS_PORT"
fi

if [ -n "${DOCUMIND_LIVENESS_FILE:-}" ]; then
    rm -f "$DOCUMIND_LIVENESS_FILE"
fi

exec "$@"
