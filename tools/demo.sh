#!/usr/bin/env bash
# Shoal's main job on its embedded default: builds Shoal, starts a local
# shoald on an LMDB data folder, streams its events, submits sample jobs
# (examples/jobs.txt) through the shoal CLI, waits for them, shows one job's
# record, and stops the daemon in order. Installs missing packages first.
#   SHOAL_DEMO_DATA   data folder (default ./shoal-data)
#   SHOAL_DEMO_PORT   first of two loopback ports (default 5570)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
tools/install-deps.sh
echo "== building (build/)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc 2>/dev/null || echo 2)" --target shoald shoal >/dev/null
shoald=build/tools/shoald
shoal=build/tools/shoal
data=${SHOAL_DEMO_DATA:-./shoal-data}
port=${SHOAL_DEMO_PORT:-5570}
export SHOAL_ENDPOINT="tcp://127.0.0.1:$port"
monitor_ep="tcp://127.0.0.1:$((port + 1))"

echo "== starting shoald (data $data, control $SHOAL_ENDPOINT, monitor $monitor_ep)"
"$shoald" --data "$data" --control "$SHOAL_ENDPOINT" --monitor "$monitor_ep" &
daemon=$!
monitor=""
stop () {
    if kill -0 "$daemon" 2>/dev/null; then
        "$shoal" shutdown >/dev/null 2>&1 || kill "$daemon" 2>/dev/null || true
        wait "$daemon" 2>/dev/null || true
    fi
    if [ -n "$monitor" ]; then
        kill "$monitor" 2>/dev/null || true
        wait 2>/dev/null || true # the monitor and its tail | sed
    fi
    rm -f "${events:-}"
}
trap stop EXIT
for _ in $(seq 1 100); do
    "$shoal" ping >/dev/null 2>&1 && break
    kill -0 "$daemon" 2>/dev/null || { echo "shoald failed to start"; exit 1; }
done
"$shoal" ping

echo "== events (shoal monitor --topic job.)"
events=$(mktemp)
"$shoal" monitor --topic job. >"$events" 2>/dev/null &
monitor=$!
# A subscription is live once an event arrives: probe until one does.
for _ in $(seq 1 50); do
    probe=$("$shoal" submit --type noop --queue demo)
    "$shoal" wait --timeout 10 "$probe" >/dev/null
    [ -s "$events" ] && break
done
tail --pid="$monitor" -n +1 -f "$events" | sed -u 's/^/   event  /' &

echo "== submitting examples/jobs.txt"
ids=()
while read -r type prio payload; do
    case "$type" in ''|'#'*) continue ;; esac
    id=$("$shoal" submit --type "$type" --priority "$prio" --queue demo \
         --payload "$payload")
    echo "   submitted $type ($prio) -> $id"
    ids+=("$id")
done < examples/jobs.txt

echo "== waiting"
for id in "${ids[@]}"; do
    if "$shoal" wait --timeout 30 "$id" >/dev/null; then
        echo "   $id succeeded"
    else
        echo "   $id did not succeed (exit $?)"
    fi
done

echo "== a workflow: examples/workflows/etl.json (fan-out, conditions, fan-in)"
run=$("$shoal" workflow run examples/workflows/etl.json \
      --input '{"rows": 1200, "region": "eu"}' | tail -n 1)
echo "   run $run"
"$shoal" wait --timeout 60 "$run" >/dev/null || true
"$shoal" workflow show "$run" | sed 's/^/   /'

echo "== one job's durable record (shoal status --json)"
"$shoal" status --json "${ids[0]}"
echo "== counts (shoal stats)"
"$shoal" stats
sleep 0.2 # let the last events reach the screen before the summary
echo "== stopping shoald; the jobs stay in $data"
