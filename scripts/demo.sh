#!/usr/bin/env bash
# LogiData demo: Airflow (api-server, scheduler, dag-processor, triggerer) + the example pipelines.
#
# The api-server starts first: the scheduler, DAG processor and triggerer start once it answers, because
# task processes report to its execution API (a task started before it listens fails with "Connection
# refused" and an empty log). Every line the script prints carries the time; each wait says what for.
#
# Everything lives in .demo/ (or $DEMO_DIR: Airflow home, SQLite DB, pipelines, staging, logs) and every
# server listens on 127.0.0.1 only. The example `example_orders_cleaning` is scheduled @once and unpaused at
# creation, so the scheduler runs it by itself; the script waits for that run, prints a banner and keeps
# the processes running until Ctrl-C.
#
# Environment: DEMO_PORT (default 8080), DEMO_RESET=1 wipes the demo's folder first,
#              DEMO_DIR (the demo's folder, default .demo in the repository; a relative path is taken from
#              the repository root; tests and scripts/screenshots.py run the demo in a temporary one),
#              DEMO_PARSE_TIMEOUT / DEMO_RUN_TIMEOUT (seconds, default 180 each).
# Ctrl-C (SIGINT) or SIGTERM stops every process the script started (SIGTERM, then SIGKILL after 20 s);
# started as a background job of a non-interactive shell, SIGINT is ignored: stop it with SIGTERM.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT="$PWD"
if [[ -x "$ROOT/.venv/bin/airflow" ]]; then
    export PATH="$ROOT/.venv/bin:$PATH"
fi
for tool in python airflow logidata; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "error: '$tool' not found; run 'make venv' (or 'make demo') first" >&2
        exit 1
    fi
done

PORT="${DEMO_PORT:-8080}"
HOST=127.0.0.1
BASE_URL="http://$HOST:$PORT"
DEMO="${DEMO_DIR:-$ROOT/.demo}"
[[ "$DEMO" == /* ]] || DEMO="$ROOT/$DEMO"
# How messages name the folder: relative to the repository root when inside it (".demo" by default).
SHOWN="${DEMO#"$ROOT"/}"
LOGS="$DEMO/logs"
DAG_ID=example_orders_cleaning
PARSE_TIMEOUT="${DEMO_PARSE_TIMEOUT:-180}"
RUN_TIMEOUT="${DEMO_RUN_TIMEOUT:-180}"

if [[ "${DEMO_RESET:-0}" == 1 ]]; then
    rm -rf "$DEMO"
fi

# --- configuration (environment only; nothing is written into airflow.cfg by hand) ----------------------
export AIRFLOW_HOME="$DEMO/airflow"
export AIRFLOW__CORE__EXECUTOR=LocalExecutor
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="sqlite:///$DEMO/airflow.db"
export AIRFLOW__CORE__PARALLELISM=4
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__DAGS_FOLDER="$AIRFLOW_HOME/dags"
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=False
export AIRFLOW__CORE__AUTH_MANAGER=airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=admin:admin
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE="$AIRFLOW_HOME/simple_auth_manager_passwords.json"
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="$BASE_URL/execution/"
export AIRFLOW__API__BASE_URL="$BASE_URL"
export AIRFLOW__API__HOST="$HOST"
export AIRFLOW__API__PORT="$PORT"
export AIRFLOW__API__WORKERS=1
# Fixed secrets: demo only, so tokens stay valid across restarts of the demo.
export AIRFLOW__API__SECRET_KEY=logidata-demo-secret-key-not-for-production
export AIRFLOW__API_AUTH__JWT_SECRET=logidata-demo-jwt-secret-not-for-production
export AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL=5
export AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL=5
export AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES=1
export AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK=False
export AIRFLOW__LOGIDATA__PIPELINES_PATH="$DEMO/pipelines"
export AIRFLOW__LOGIDATA__STAGING_PATH="$DEMO/staging"
export AIRFLOW__LOGIDATA__REPORT_PATH="$DEMO/factory_report.json"
export DO_NOT_TRACK=1 SCARF_ANALYTICS=false SCARF_NO_ANALYTICS=true

mkdir -p "$AIRFLOW_HOME/dags" "$LOGS" "$DEMO/pipelines" "$DEMO/staging"
# `source .demo/env.sh` (or $DEMO_DIR/env.sh) gives another shell the same settings (for `logidata ...`
# or `airflow ...`).
{
    echo "# Written by scripts/demo.sh: source it to use the demo's Airflow and LogiData from a shell."
    [[ -d "$ROOT/.venv/bin" ]] && echo "export PATH=\"$ROOT/.venv/bin:\$PATH\""
    export -p | grep -E '^declare -x (AIRFLOW_HOME|AIRFLOW__[A-Z_]+)='
} >"$DEMO/env.sh"
# A known password for the SimpleAuthManager user (otherwise Airflow generates a random one).
printf '{"admin": "admin"}\n' >"$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"

say() {
    # say MESSAGE...: one line of the script's own output, with the time.
    printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*"
}

port_free() {
    python - "$HOST" "$PORT" <<'PY'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # like the servers: TIME_WAIT is no conflict
try:
    s.bind((sys.argv[1], int(sys.argv[2])))
except OSError:
    sys.exit(1)
finally:
    s.close()
PY
}
if ! port_free; then
    echo "error: $HOST:$PORT is in use; stop what uses it or set DEMO_PORT" >&2
    exit 1
fi

# --- process management ----------------------------------------------------------------------------------
PIDS=()
NAMES=()
STOPPING=0

stop_all() {
    local status=$?
    [[ "$STOPPING" == 1 ]] && return
    STOPPING=1
    trap - INT TERM EXIT
    if ((${#PIDS[@]})); then
        echo
        echo "stopping ${NAMES[*]} ..."
        local pid
        for pid in "${PIDS[@]}"; do
            kill -TERM -- "-$pid" 2>/dev/null || true
        done
        local deadline=$((SECONDS + 20))
        for pid in "${PIDS[@]}"; do
            while kill -0 -- "-$pid" 2>/dev/null && ((SECONDS < deadline)); do
                sleep 0.5
            done
            kill -KILL -- "-$pid" 2>/dev/null || true
        done
        wait 2>/dev/null || true
        echo "stopped."
    fi
    exit "$status"
}
trap stop_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start() {
    # start NAME COMMAND...: run in its own session/process group so it can be stopped as a whole.
    local name="$1"
    shift
    setsid "$@" >"$LOGS/$name.log" 2>&1 </dev/null &
    PIDS+=("$!")
    NAMES+=("$name")
    say "  $name (pid $!) -> $SHOWN/logs/$name.log"
}

check_alive() {
    local i
    for i in "${!PIDS[@]}"; do
        if ! kill -0 "${PIDS[$i]}" 2>/dev/null; then
            echo "error: ${NAMES[$i]} exited; last lines of $SHOWN/logs/${NAMES[$i]}.log:" >&2
            tail -n 40 "$LOGS/${NAMES[$i]}.log" >&2 || true
            exit 1
        fi
    done
}

# api STATE-QUERY: one-shot REST call with a fresh token; prints a single word.
#   api dag  -> "parsed" | "missing"        api run -> latest run state | "none"
api() {
    python - "$BASE_URL" "$DAG_ID" "$1" <<'PY' 2>/dev/null || echo "unavailable"
import json, sys, urllib.error, urllib.request

base, dag_id, what = sys.argv[1:4]
body = json.dumps({"username": "admin", "password": "admin"}).encode()
req = urllib.request.Request(f"{base}/auth/token", data=body, method="POST",
                             headers={"Content-Type": "application/json"})
token = json.load(urllib.request.urlopen(req, timeout=10))["access_token"]
headers = {"Authorization": f"Bearer {token}"}
if what == "dag":
    try:
        urllib.request.urlopen(urllib.request.Request(f"{base}/api/v2/dags/{dag_id}", headers=headers), timeout=10)
        print("parsed")
    except urllib.error.HTTPError as exc:
        if exc.code != 404:
            raise
        print("missing")
else:
    url = f"{base}/api/v2/dags/{dag_id}/dagRuns?limit=100"
    runs = json.load(urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10))
    states = {run["state"] for run in runs["dag_runs"]}
    # @once: normally a single run; report the most telling state if there are several.
    print(next((s for s in ("success", "failed", "running", "queued") if s in states), "none"))
PY
}

# --- set up -----------------------------------------------------------------------------------------------
say "LogiData demo in $SHOWN/ (AIRFLOW_HOME=$SHOWN/airflow)"
say "migrating the metadata DB ..."
airflow db migrate >"$LOGS/db-migrate.log" 2>&1 || {
    tail -n 40 "$LOGS/db-migrate.log" >&2
    exit 1
}
cp dags/logidata_pipelines.py "$AIRFLOW__CORE__DAGS_FOLDER/logidata_pipelines.py"
say "installing the example pipelines ..."
logidata examples install >"$LOGS/examples-install.log" 2>&1 || {
    cat "$LOGS/examples-install.log" >&2
    exit 1
}
sed 's/^/  /' "$LOGS/examples-install.log"

say "starting Airflow's api-server on $BASE_URL ..."
start api-server airflow api-server --host "$HOST" --port "$PORT"
say "waiting for the api-server to answer $BASE_URL/api/v2/monitor/health (up to 120 s; the first start takes longest) ..."
deadline=$((SECONDS + 120))
until python -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5)" \
    "$BASE_URL/api/v2/monitor/health" 2>/dev/null; do
    check_alive
    if ((SECONDS > deadline)); then
        echo "error: the api-server did not answer within 120 s; see $SHOWN/logs/api-server.log" >&2
        exit 1
    fi
    sleep 2
done
say "api-server is up; starting the scheduler, DAG processor and triggerer ..."
start scheduler airflow scheduler --skip-serve-logs
start dag-processor airflow dag-processor
start triggerer airflow triggerer --skip-serve-logs

say "waiting for the DAG processor to parse $DAG_ID (up to ${PARSE_TIMEOUT} s) ..."
deadline=$((SECONDS + PARSE_TIMEOUT))
until [[ "$(api dag)" == parsed ]]; do
    check_alive
    if ((SECONDS > deadline)); then
        echo "error: $DAG_ID not parsed within ${PARSE_TIMEOUT} s; see $SHOWN/logs/dag-processor.log," >&2
        echo "       'logidata report' and $SHOWN/airflow/logs/dag_processor/; the factory report says:" >&2
        logidata report >&2 || true
        exit 1
    fi
    sleep 3
done
say "$DAG_ID is parsed; waiting for its first (@once) run to finish (up to ${RUN_TIMEOUT} s) ..."

deadline=$((SECONDS + RUN_TIMEOUT))
state=none
while :; do
    check_alive
    state="$(api run)"
    [[ "$state" == success || "$state" == failed ]] && break
    if ((SECONDS > deadline)); then
        break
    fi
    sleep 3
done
case "$state" in
    success) say "first run of $DAG_ID: success" ;;
    failed) say "first run of $DAG_ID: FAILED (open it in the UI to see the task logs)" ;;
    *) say "first run of $DAG_ID not finished after ${RUN_TIMEOUT} s (state: $state); it may still finish" ;;
esac

cat <<EOF

==========================================================================================
  LogiData demo is running
    Airflow UI      $BASE_URL
    login           admin / admin
    pipelines       $SHOWN/pipelines   (logidata list / show / import ...)
    example output  $SHOWN/airflow/logidata/data/examples/output
    factory report  $SHOWN/factory_report.json   (logidata report)
    process logs    $SHOWN/logs/{api-server,scheduler,dag-processor,triggerer}.log
    task logs       $SHOWN/airflow/logs
    CLI             source $SHOWN/env.sh; logidata list
  Ctrl-C to stop
==========================================================================================
EOF

# Keep running until Ctrl-C or until one of the servers dies.
while :; do
    check_alive
    sleep 5 &
    wait $! || true
done
