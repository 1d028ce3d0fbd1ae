#!/usr/bin/env bash
# Workflow runs survive kill -9 exactly: many concurrent runs of one
# workflow whose path depends on the run input (ports, conditions over the
# input and the output, a fan-out joined with join all, a failure taken by
# an on-fail edge, an on-all edge, join any, skipped branches and a saga
# whose compensation nodes run for some inputs; one node is a short sleep,
# a blocking handler that reports itself running) are started while a real
# shoald is killed with kill -9 at random points and restarted. Checked at
# the end, for every run (acknowledged or committed unacknowledged):
#   - it ends as the same input ends on a daemon that never crashed: the
#     same run state and error, and the same path (every node's id, final
#     state and error; a compensation node that never ran stays waiting);
#   - node executions repeat only for steps in flight at a crash: the
#     extra attempts of all the runs' nodes together are at most the
#     leased jobs the store requeued when it recovered (its log line
#     "recovery requeued N leased job(s)"), and zero without crashes; and
#     no node was started twice: the store holds exactly one job per node
#     that a run view shows as started (no duplicate from a replayed step).
# Kill points come from a seed printed first (SHOAL_WFCRASH_SEED replays
# it); the size is set by SHOAL_WFCRASH_RUNS, SHOAL_WFCRASH_KILLS and
# SHOAL_WFCRASH_SUBMITTERS (parallel clients starting runs). Every wait is
# bounded; nothing asserts timing.
. "$(dirname "$0")/lib.sh"

RUNS=${SHOAL_WFCRASH_RUNS:-150}
KILLS=${SHOAL_WFCRASH_KILLS:-4}
SUBMITTERS=${SHOAL_WFCRASH_SUBMITTERS:-4}
SEED=${SHOAL_WFCRASH_SEED:-$(($(date +%s) % 32768))}
echo "seed $SEED (replay: SHOAL_WFCRASH_SEED=$SEED), $RUNS runs, $KILLS kill -9s," \
    "$SUBMITTERS submitters"
RANDOM=$SEED

if ! command -v jq >/dev/null; then
    fail "jq is installed (tools/install-deps.sh installs it)"
    finish
    exit 1
fi

WORKERS=""
stop_workers () {
    local p
    for p in $WORKERS; do
        kill "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    WORKERS=""
}
trap 'stop_workers; cleanup' EXIT

cat >"$TMP/wfcrash.json" <<'JSON'
{"name": "wfcrash",
 "description": "crash test: the path depends on the input",
 "nodes": [
  {"id": "start", "type": "echo", "compensate": "undo_start"},
  {"id": "left", "type": "echo", "config": {"side": "left"}},
  {"id": "right", "type": "echo", "config": {"side": "right"},
   "compensate": "undo_right"},
  {"id": "split", "type": "echo", "config": {"score": 40}},
  {"id": "a1", "type": "sleep", "config": {"ms": 5}},
  {"id": "a2", "type": "noop"},
  {"id": "a3", "type": "echo", "config": {"leg": 3}},
  {"id": "gather", "type": "echo", "join": "all"},
  {"id": "risky", "type": "fail", "config": {"message": "risky failed"},
   "retry": "none"},
  {"id": "after_risky", "type": "echo"},
  {"id": "rescue", "type": "echo", "config": {"rescued": true}},
  {"id": "audit", "type": "noop"},
  {"id": "either", "type": "echo", "join": "any"},
  {"id": "charge", "type": "echo", "config": {"eur": 5}, "compensate": "refund"},
  {"id": "ship", "type": "fail", "config": {"message": "no courier"},
   "retry": "none"},
  {"id": "confirm", "type": "echo", "config": {"confirmed": true}},
  {"id": "undo_start", "type": "echo"},
  {"id": "undo_right", "type": "echo"},
  {"id": "refund", "type": "echo"}],
 "edges": [
  {"from": "start", "to": "left", "port": "left"},
  {"from": "start", "to": "right", "port": "right"},
  {"from": "split", "to": "a1", "if": "input.f1"},
  {"from": "split", "to": "a2", "if": "input.f2 && output.score > 10"},
  {"from": "split", "to": "a3", "if": "input.n >= 50"},
  {"from": "a1", "to": "gather"},
  {"from": "a2", "to": "gather"},
  {"from": "a3", "to": "gather"},
  {"from": "gather", "to": "risky", "if": "input.risky == true"},
  {"from": "risky", "to": "after_risky"},
  {"from": "risky", "to": "rescue", "on": "fail"},
  {"from": "rescue", "to": "audit", "on": "all"},
  {"from": "left", "to": "either"},
  {"from": "right", "to": "either"},
  {"from": "gather", "to": "either"},
  {"from": "either", "to": "charge", "if": "input.n < 80 || input.port == \"left\""},
  {"from": "charge", "to": "ship", "if": "input.doom"},
  {"from": "charge", "to": "confirm", "if": "!input.doom"}]}
JSON

# input_of I: run I's input. start echoes it, so input.port is start's
# port (none: neither left nor right); the other fields steer conditions.
input_of () {
    local i=$1 port=""
    case $((i % 3)) in
        0) port=',"port":"left"' ;;
        1) port=',"port":"right"' ;;
    esac
    local f1=false f2=false risky=false doom=false
    [ $((i / 3 % 2)) -eq 1 ] && f1=true
    [ $((i / 6 % 2)) -eq 1 ] && f2=true
    [ $((i / 12 % 2)) -eq 1 ] && risky=true
    [ $((i % 5)) -eq 2 ] && doom=true
    printf '{"k":%d,"n":%d,"f1":%s,"f2":%s,"risky":%s,"doom":%s%s}' \
        "$i" $((i * 37 % 100)) "$f1" "$f2" "$risky" "$doom" "$port"
}

# One line per run view: its nodes' extra attempts (a node that ran has
# attempt >= 1, one not reached 0), its nodes that have a job, and what is
# compared: the run's state and error, and every node's id, final state
# and error (not outputs: join any takes whichever input fired first, so
# its output may differ between two correct runs).
VIEW='[([.nodes[] | select(.attempt > 1) | .attempt - 1] | add // 0),
      ([.nodes[] | select(.job)] | length),
      ({state, error, nodes: ([.nodes[] | {id, state, error}] | sort_by(.id))}
       | tojson)] | map(tostring) | join(" ")'
# view_of FILE: prints "EXTRA JOBS CANON" ("x x x" if FILE holds no view)
view_of () {
    local v
    v=$(jq -r "$VIEW" "$1" 2>/dev/null) || v=""
    echo "${v:-x x x}"
}
# jobs_total: every job shoald holds, by the stats counts
jobs_total () {
    "$SHOAL" stats --json | jq '[.jobs[]] | add'
}

# submitter P: starts runs P, P + SUBMITTERS, ... and records "I RUN" for
# every run shoald acknowledged; after a failure (shoald killed) it waits,
# bounded, until shoald answers again and goes on with the next input (the
# failed one may have been committed all the same: checked below too).
submitter () {
    local p=$1 i out t
    export SHOAL_TIMEOUT=$SUBMIT_TIMEOUT
    for ((i = p; i < RUNS; i += SUBMITTERS)); do
        if out=$("$SHOAL" workflow run wfcrash --input "$(input_of "$i")" 2>/dev/null); then
            echo "$i ${out##*$'\n'}" >>"$TMP/acked"
            continue
        fi
        echo "$i" >>"$TMP/unacked"
        for t in $(seq 1 600); do
            SHOAL_TIMEOUT=0.5 "$SHOAL" ping >/dev/null 2>&1 && break
            sleep 0.05
        done
    done
}

# 1. Reference: every input on a daemon that never crashes.
DATA="$TMP/ref"
SUBMIT_TIMEOUT=10
start_shoald || exit 1
expect_rc "define wfcrash (reference daemon)" 0 "$SHOAL" workflow define "$TMP/wfcrash.json"
: >"$TMP/acked"
for p in $(seq 0 $((SUBMITTERS - 1))); do
    submitter "$p" &
    WORKERS="$WORKERS $!"
done
for p in $WORKERS; do wait "$p"; done
WORKERS=""
check "reference: every run acknowledged ($(wc -l <"$TMP/acked") of $RUNS)" \
    test "$(wc -l <"$TMP/acked")" -eq "$RUNS"
declare -A REF REF_RC
ref_extra=0; ref_jobs=0; ended=0
while read -r i id; do
    "$SHOAL" wait --timeout 60 --json "$id" >"$TMP/view" 2>/dev/null
    REF_RC[$i]=$?
    case ${REF_RC[$i]} in 0 | 4) ended=$((ended + 1)) ;; *) continue ;; esac
    read -r e j REF[$i] <<<"$(view_of "$TMP/view")"
    [ "$e" = x ] || { ref_extra=$((ref_extra + e)); ref_jobs=$((ref_jobs + j)); }
done <"$TMP/acked"
check "reference: every run ended ($ended of $RUNS)" test "$ended" -eq "$RUNS"
check "reference: no node ran twice ($ref_extra extra attempts)" test "$ref_extra" -eq 0
held=$(jobs_total)
check "reference: one job per started node ($held jobs, $ref_jobs started nodes)" \
    test "$held" = "$ref_jobs"
# the inputs exercise what the test is about
printf '%s\n' "${REF[@]}" >"$TMP/ref.all"
paths=$(sort -u "$TMP/ref.all" | wc -l)
check "reference: several paths ($paths distinct)" test "$paths" -ge 12
check "reference: runs succeed and fail" sh -c \
    "grep -q '^{\"state\":\"succeeded\"' '$TMP/ref.all' && grep -q '^{\"state\":\"failed\"' '$TMP/ref.all'"
check "reference: a failure handled by its on-fail edge" \
    grep -q '"id":"rescue","state":"succeeded"' "$TMP/ref.all"
check "reference: saga compensation ran" \
    grep -q '"id":"refund","state":"succeeded"' "$TMP/ref.all"
check "reference: join all and join any skipped when nothing reaches them" \
    grep -q '"id":"either","state":"cancelled","error":"not reached".*"id":"gather","state":"cancelled"' "$TMP/ref.all"
check "reference daemon shuts down" stop_shoald

# 2. The same inputs on a daemon killed with kill -9 while runs start and
#    advance. Kill points: a number of acknowledged runs drawn from the
#    seed in each of KILLS + 1 equal slices; some kills are doubled (the
#    daemon is killed again right after its recovery).
DATA="$TMP/data"
SUBMIT_TIMEOUT=1 # a request to a killed daemon fails after this
: >"$TMP/shoald.log"
start_shoald || exit 1
expect_rc "define wfcrash" 0 "$SHOAL" workflow define "$TMP/wfcrash.json"
: >"$TMP/acked"
: >"$TMP/unacked"
for p in $(seq 0 $((SUBMITTERS - 1))); do
    submitter "$p" &
    WORKERS="$WORKERS $!"
done
slice=$((RUNS / (KILLS + 1)))
[ "$slice" -ge 2 ] || slice=2
kills=0
for k in $(seq 1 "$KILLS"); do
    want=$(((k - 1) * slice + 1 + RANDOM % slice))
    double=$((RANDOM % 4 == 0))
    for t in $(seq 1 3000); do
        [ "$(wc -l <"$TMP/acked")" -ge "$want" ] && break
        sleep 0.01
    done
    echo "    kill -9 #$k after $(wc -l <"$TMP/acked") acknowledged runs" \
        "(drawn: $want)$([ "$double" -eq 1 ] && echo ', and again after its recovery')"
    kill9_shoald
    kills=$((kills + 1))
    start_shoald || exit 1
    if [ "$double" -eq 1 ]; then
        kill9_shoald
        kills=$((kills + 1))
        start_shoald || exit 1
    fi
done
for p in $WORKERS; do wait "$p"; done
WORKERS=""
acked=$(wc -l <"$TMP/acked")
check "runs acknowledged across $kills kill -9s ($acked of $RUNS, $(wc -l <"$TMP/unacked") unanswered)" \
    test "$acked" -ge $((RUNS / 2))

# Every run shoald has, acknowledged or not, ends as its reference run.
expect_rc "workflow list" 0 "$SHOAL" workflow list --json
jq -r 'select(.workflow == "wfcrash") | "\(.input.k) \(.id)"' "$TMP/out" | sort -n >"$TMP/all"
missing=0
while read -r i id; do
    grep -q " $id\$" "$TMP/all" || {
        missing=$((missing + 1))
        echo "    acknowledged run $id (input $i) is not listed"
    }
done <"$TMP/acked"
check "every acknowledged run is kept ($missing missing)" test "$missing" -eq 0
stuck=0; differ=0; extra=0; runs=0; node_jobs=0
patience=60 # seconds for a run to end; once one has not, 1 for the rest
while read -r i id; do
    runs=$((runs + 1))
    "$SHOAL" wait --timeout "$patience" --json "$id" >"$TMP/view" 2>/dev/null
    rc=$?
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 4 ]; then
        stuck=$((stuck + 1))
        patience=1
        echo "    run $id (input $i): wait exit $rc"
        continue
    fi
    read -r e j got <<<"$(view_of "$TMP/view")"
    if [ "$rc" -ne "${REF_RC[$i]:-none}" ] || [ "$got" != "${REF[$i]:-none}" ]; then
        differ=$((differ + 1))
        if [ "$differ" -le 3 ]; then
            echo "    run $id (input $(input_of "$i")) ended differently" \
                "(exit $rc, want ${REF_RC[$i]:-none}):"
            # the run state and the nodes that differ, else both whole
            d=$(jq -nc --argjson w "${REF[$i]:-null}" --argjson g "$got" \
                '{want: [$w.state, $w.error], got: [$g.state, $g.error]},
                 (range($w.nodes | length) as $n | select($w.nodes[$n] != $g.nodes[$n])
                  | {want: $w.nodes[$n], got: $g.nodes[$n]})' 2>/dev/null) ||
                d=$(printf 'want %s\ngot  %s' "${REF[$i]:-none}" "$got")
            printf '%s\n' "$d" | sed 's/^/      /'
        fi
    fi
    [ "$e" = x ] || extra=$((extra + e))
    [ "$j" = x ] || node_jobs=$((node_jobs + j))
done <"$TMP/all"
check "every run ended ($runs runs, $((runs - acked)) of them unanswered; $stuck not ended)" \
    test "$stuck" -eq 0 -a "$runs" -ge "$acked"
check "every run took its uninterrupted path and state ($differ differ)" test "$differ" -eq 0
requeued=$(sed -n 's/.*recovery requeued \([0-9]*\) leased job.*/\1/p' "$TMP/shoald.log" |
    awk '{s += $1} END {print s + 0}')
check "extra node attempts only for jobs in flight at a crash ($extra <= $requeued requeued)" \
    test "$extra" -le "$requeued"
echo "    ($requeued node job(s) were in flight at a crash; each ran again as its next attempt)"
held=$(jobs_total)
check "no node started twice: one job per started node ($held jobs, $node_jobs started nodes)" \
    test "$held" = "$node_jobs"
expect_rc "stats" 0 "$SHOAL" stats --json
check "nothing left leased or enqueued" sh -c \
    "grep -q '\"leased\":0' '$TMP/out' && grep -q '\"enqueued\":0' '$TMP/out'"
check "clean shutdown" stop_shoald
finish
