#!/usr/bin/env bash
# An external worker in another language: examples/python-worker/worker.py
# (pyzmq + msgpack, docs/protocol.md "Workers (external)") against a real
# shoald that owns the queues. Jobs that require the worker's label run on
# "py.N@NAME", not on the owner's own executor, with the right results
# (then the owner runs none of its own: -x 0); an unknown type fails
# clearly; long runs report their start and renew their lease; the worker
# links again after the owner restarts; kill -9 -> its leases are requeued
# once the owner declares it lost and another worker runs them; a worker
# that was stopped (SIGSTOP) comes back, is told so, and its late result
# is refused as stale; CANCEL stops a run on the worker; SIGTERM -> bye:
# lost at once, its running job requeued; a worker that beats too slowly
# still gets its jobs done, none of its lost leases counted; a message of
# several frames cannot pass for another worker's; CURVE, and a worker whose
# key is refused until it is allowed. Skips (77) when
# /usr/bin/python3 (or $SHOAL_TEST_PYTHON) has no zmq or msgpack.
. "$(dirname "$0")/lib.sh"

PY=${SHOAL_TEST_PYTHON:-/usr/bin/python3}
WORKER="$(cd "$(dirname "$0")/../.." && pwd)/examples/python-worker/worker.py"
if ! "$PY" -c 'import zmq, msgpack' 2>/dev/null; then
    echo "SKIP: $PY lacks the zmq or msgpack module" \
         "(apt-get install python3-zmq python3-msgpack; tools/install-deps.sh does it)"
    exit 77
fi

declare -A WPID
stop_workers () {
    local n
    for n in "${!WPID[@]}"; do kill -9 "${WPID[$n]}" 2>/dev/null; done
}
trap 'stop_workers; cleanup' EXIT

# start_worker NAME [worker options...]
start_worker () {
    local name=$1; shift
    "$PY" "$WORKER" --join "$EP" --name "$name" "$@" >>"$TMP/$name.log" 2>&1 &
    WPID[$name]=$!
}

# pyj EXPR: prints EXPR of the JSON document on stdin (named d)
pyj () { "$PY" -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# until_true SECONDS CMD...: retries CMD every 0.1 s until it succeeds
until_true () {
    local n=$(( $1 * 10 )) i; shift
    for ((i = 0; i < n; i++)); do
        "$@" && return 0
        sleep 0.1
    done
    return 1
}

# worker_field NAME KEY: a field of the worker in `shoal workers`
worker_field () {
    "$SHOAL" workers --json | pyj "next((w.get('$2') for w in d if w['name'] == '$1'), None)"
}
is_alive_with () { # NAME EXECUTORS
    test "$(worker_field "$1" state)" = alive -a "$(worker_field "$1" executors)" = "$2"
}
is_lost () { test "$(worker_field "$1" state)" = lost; }
job_field () { "$SHOAL" status --json "$1" | pyj "d.get('$2')"; }
is_running () { test "$(job_field "$1" running)" = True; }
all_running () { local id; for id in "$@"; do is_running "$id" || return 1; done; }
stat_of () { "$SHOAL" stats --json | pyj "d['$1']"; }
stat_at_least () { test "$(stat_of "$1")" -ge "$2"; }
in_log () { grep -q -- "$2" "$TMP/$1.log"; }
executor_is () { [[ "$(job_field "$1" executor)" =~ ^py\.[0-9]+@$2$ ]]; }
submit () { "$SHOAL" submit "$@" | tail -n 1; }

# --- 1. a worker runs the owner's jobs ------------------------------------
# A short lease (no grace) that only heartbeats can stretch; one executor
# of the owner's own, which jobs that require "py" must not go to.
start_shoald --bind 'tcp://127.0.0.1:*' --host-name alpha -x 1 \
    --set store/lease=3000 --set store/lease_grace=0 || exit 1
EP=$("$SHOAL" hosts --json | pyj "d[0]['bind']")
check "the owner tells the port it bound ($EP)" \
    bash -c "[[ '$EP' =~ ^tcp://127\.0\.0\.1:[0-9]+$ ]]"

start_worker w1 --capacity 4 --label py --label lang.python
check "w1 joins: alive with 4 executors" until_true 30 is_alive_with w1 4
check "as a worker, with its labels" \
    test "$(worker_field w1 kind)/$(worker_field w1 labels)" = "worker/py,lang.python"

# A message of several frames is dropped whole: its last parts cannot pass
# for a message of another worker (here: w1's bye). The answer to the
# beat that follows proves the owner read all of it.
check "a multi-part message is dropped whole" "$PY" - "$EP" <<PYEOF
import sys, runpy, zmq
w = runpy.run_path("$WORKER", run_name="worker")
s = zmq.Context.instance().socket(zmq.DEALER)
s.setsockopt(zmq.ROUTING_ID, b"rogue")
s.connect(sys.argv[1])
beat = {"name": "rogue", "kind": "worker", "bye": False}
fake_bye = w["encode"](64, "registry", "registry", dict(beat, bye=True))[1]
s.send_multipart([b"x", b"y", b"w1", fake_bye])
mid, hb = w["encode"](64, "registry", "registry", beat)
s.send(hb)
answered = s.poll(10000) and w["Frame"](s.recv()).corr == mid
s.send(w["encode"](64, "registry", "registry", dict(beat, bye=True))[1])
s.close(linger=2000)
sys.exit(0 if answered else 1)
PYEOF
check "it did not speak for w1" test "$(worker_field w1 state)/$(worker_field w1 lost)" = alive/0

for i in $(seq 1 25); do
    printf '{"type":"py.upper","require":["py"],"payload":{"text":"job %d: abc"}}\n' "$i"
    printf '{"type":"py.sum","require":["py"],"payload":{"numbers":[%d,%d,0.5]}}\n' "$i" $((i * i))
done >"$TMP/jobs.jsonl"
"$SHOAL" batch submit "$TMP/jobs.jsonl" >"$TMP/batch" 2>"$TMP/err"
check "50 jobs submitted" test "$(tail -n +2 "$TMP/batch" | wc -l)" -eq 50
expect_rc "all of them succeed" 0 "$SHOAL" wait --timeout 60 "$(head -n 1 "$TMP/batch")"
tail -n +2 "$TMP/batch" | while read -r id; do
    "$SHOAL" status --json "$id"
done >"$TMP/views.jsonl"
check "each with the right result, run by py.[0-3]@w1" "$PY" - "$TMP/views.jsonl" <<'EOF'
import json, re, sys
views = [json.loads(line) for line in open(sys.argv[1])]
bad = []
for v in views:
    p = v.get("payload")
    want = ({"text": p["text"].upper()} if v["type"] == "py.upper"
            else {"sum": sum(p["numbers"])})
    if (v["state"] != "succeeded" or v.get("result") != want
            or not re.fullmatch(r"py\.[0-3]@w1", v.get("executor", ""))):
        bad.append(v)
for v in bad[:3]:
    print("    wrong:", v)
sys.exit(0 if len(views) == 50 and not bad else 1)
EOF

id=$(submit --type echo --require lang.python --payload '{"a":[1,2,{"b":null}]}')
expect_rc "echo" 0 "$SHOAL" wait --timeout 30 --json "$id"
check "echo's result is its payload" grep -qF '"result":{"a":[1,2,{"b":null}]}' "$TMP/out"
check "(run by the worker)" executor_is "$id" w1

id=$(submit --type py.nope --require py --payload '{}')
expect_rc "a type the worker does not know fails" 4 "$SHOAL" wait --timeout 30 --json "$id"
check "with a clear error" grep -qF '"error":"no handler for type py.nope on worker w1"' "$TMP/out"
check "and class no_handler" grep -qF '"error_class":"no_handler"' "$TMP/out"
id=$(submit --type py.sum --require py --payload '{"numbers":[1,"x"]}')
expect_rc "a bad payload fails" 4 "$SHOAL" wait --timeout 30 --json "$id"
check "saying what it needs, class invalid" grep -qF \
    '"error_class":"invalid","error":"py.sum needs {\"numbers\": [number, ...]}"' "$TMP/out"

id=$(submit --type py.sleep --require py --payload '{"ms":4000}')
check "a long run reports its start (STARTED)" until_true 30 is_running "$id"
expect_rc "and outlives its 3 s lease" 0 "$SHOAL" wait --timeout 30 --json "$id"
check "on its first attempt" test "$(job_field "$id" attempt)" = 1
check "renewed by heartbeats (EXTEND)" stat_at_least lease_extends 1
check "no lease ran out" test "$(stat_of expired_leases)" = 0

# --- 2. the owner restarts on the same port: the worker links again --------
stop_shoald
check "w1 notices the owner is gone" until_true 30 in_log w1 "no answer from the owner"
start_shoald --bind "$EP" --host-name alpha -x 0 || exit 1
check "w1 links again by itself" until_true 30 is_alive_with w1 4
id=$(submit --type py.upper --payload '{"text":"again"}')
expect_rc "and runs jobs again" 0 "$SHOAL" wait --timeout 30 --json "$id"
check "on w1" executor_is "$id" w1

# --- 3. kill -9 mid-run: the owner requeues its leases ---------------------
ids=()
for i in 1 2 3 4; do ids+=("$(submit --type py.sleep --payload '{"ms":4000}')"); done
check "4 slow jobs run on w1" until_true 30 all_running "${ids[@]}"
kill -9 "${WPID[w1]}"; wait "${WPID[w1]}" 2>/dev/null; unset 'WPID[w1]'
start_worker w2 --capacity 4 --grace 0
check "the owner declares w1 lost" until_true 30 is_lost w1
check "for its silence" grep -q "worker w1 is lost (no heartbeat" "$TMP/shoald.log"
check "its 4 leases were requeued (lost_requeued)" until_true 10 stat_at_least lost_requeued 4
for id in "${ids[@]}"; do "$SHOAL" wait --timeout 60 "$id" >/dev/null 2>&1 || echo "    $id did not succeed"; done
ok_w2=0
for id in "${ids[@]}"; do
    test "$(job_field "$id" state)/$(job_field "$id" attempt)" = succeeded/1 &&
        executor_is "$id" w2 && ok_w2=$((ok_w2 + 1))
done
check "the second worker completed all 4, as their first attempt" test "$ok_w2" -eq 4

start_worker w1 --capacity 1 --grace 0
check "w1 comes back under its name" until_true 30 is_alive_with w1 1
check "as a rejoin" grep -q "worker w1 is back" "$TMP/shoald.log"
check "the owner counts one loss" test "$(worker_field w1 lost)" = 1

# --- 4. SIGTERM while idle: bye, lost at once -----------------------------
kill -TERM "${WPID[w2]}"
wait "${WPID[w2]}"; rc=$?; unset 'WPID[w2]'
check "w2 exits 0 on SIGTERM" test "$rc" -eq 0
check "the owner sees it leave" until_true 10 grep -q "worker w2 is lost (it left)" "$TMP/shoald.log"
check "w2 is listed lost" is_lost w2

# --- 5. a stopped worker: its late result is refused as stale -------------
# (w1 stops its run when told it had been lost, and reports it: over the
# new connection, so the report cannot be lost with the old one)
id=$(submit --type py.sleep --payload '{"ms":8000}')
check "a job runs on w1" until_true 30 is_running "$id"
check "(it is w1's)" executor_is "$id" w1
stale=$(stat_of stale_results)
kill -STOP "${WPID[w1]}"
start_worker w3 --capacity 2 --grace 0
check "stopped w1 is declared lost" until_true 30 is_lost w1
kill -CONT "${WPID[w1]}"
check "w1 is back" until_true 30 is_alive_with w1 1
check "and told it had been lost (rejoin)" until_true 30 in_log w1 "the owner had declared us lost"
check "its late result is refused (stale_results)" until_true 30 stat_at_least stale_results $((stale + 1))
expect_rc "the job runs again elsewhere" 0 "$SHOAL" wait --timeout 60 "$id"
check "on w3" executor_is "$id" w3
check "with w3's result, as its first attempt" \
    test "$(job_field "$id" state)/$(job_field "$id" attempt)" = succeeded/1

# --- 6. CANCEL reaches the worker -----------------------------------------
stale=$(stat_of stale_results)
id=$(submit --type py.sleep --payload '{"ms":600000}')
check "a long job runs" until_true 30 is_running "$id"
wname=$(job_field "$id" executor); wname=${wname#*@}
expect_rc "cancel it" 0 "$SHOAL" cancel "$id"
check "the worker stops it" until_true 30 in_log "$wname" "job $id cancelled"
ids=()
for i in 1 2 3; do ids+=("$(submit --type py.upper --payload '{"text":"x"}')"); done
all=0
for id in "${ids[@]}"; do "$SHOAL" wait --timeout 30 "$id" >/dev/null 2>&1 && all=$((all + 1)); done
check "every slot takes work again" test "$all" -eq 3
check "no result was sent for the cancelled run" test "$(stat_of stale_results)" = "$stale"

# --- 7. SIGTERM mid-run: bye, the job is requeued at once ------------------
id=$(submit --type py.sleep --payload '{"ms":600000}')
check "a long job runs" until_true 30 is_running "$id"
wname=$(job_field "$id" executor); wname=${wname#*@}
lost=$(stat_of lost_requeued)
kill -TERM "${WPID[$wname]}"
wait "${WPID[$wname]}"; rc=$?; unset "WPID[$wname]"
check "$wname exits 0 on SIGTERM" test "$rc" -eq 0
check "the owner sees it leave" until_true 10 grep -q "worker $wname is lost (it left)" "$TMP/shoald.log"
check "its running job is requeued (lost_requeued)" until_true 10 stat_at_least lost_requeued $((lost + 1))
other=w1; [ "$wname" = w1 ] && other=w3
check "and runs on $other" until_true 30 executor_is "$id" "$other"
expect_rc "cancel it" 0 "$SHOAL" cancel "$id"
kill -TERM "${WPID[$other]}"
wait "${WPID[$other]}"; rc=$?; unset "WPID[$other]"
check "$other exits 0 on SIGTERM" test "$rc" -eq 0
check "the owner sees it leave" until_true 10 grep -q "worker $other is lost (it left)" "$TMP/shoald.log"

# --- 8. a worker beating slower than the owner's liveness flaps (lost 3 s
# of every 5): the leases it is offered while lost come straight back,
# uncounted, and its jobs run once it is back
"$PY" - --join "$EP" --name slow --capacity 1 --grace 0 <<PYEOF >>"$TMP/slow.log" 2>&1 &
import runpy
mod = runpy.run_path("$WORKER", run_name="worker")
on_link = mod["Worker"].on_link
def slow_beats(self, body):   # ignores the owner's heartbeat_ms: 5 s beats
    on_link(self, body)
    self.hb_s = 5.0
mod["Worker"].on_link = slow_beats
mod["main"]()
PYEOF
WPID[slow]=$!
check "a slow-beating worker joins" until_true 30 is_alive_with slow 1
check "and is lost between its beats" until_true 30 is_lost slow
id=$(submit --type py.upper --payload '{"text":"slow"}')
expect_rc "a job submitted meanwhile runs once it is back" 0 "$SHOAL" wait --timeout 60 "$id"
check "on it, as its first attempt (leases: $(job_field "$id" epoch))" \
    test "$(job_field "$id" executor)/$(job_field "$id" attempt)" = py.0@slow/1
kill -TERM "${WPID[slow]}"; wait "${WPID[slow]}"; unset 'WPID[slow]'
check "shoald stops cleanly" stop_shoald

# --- 9. CURVE: the worker proves an allowed key; a refused one retries ------
C="$TMP/certs"
mkdir -p "$C/allow"
for n in alpha w9 w8; do "$SHOAL" keygen "$C" --name "$n" >/dev/null; done
cp "$C/w9.key" "$C/allow/"
export SHOAL_CERT="$C/w9.key_secret" SHOAL_SERVER_KEY="$C/alpha.key"
start_shoald --bind 'tcp://127.0.0.1:*' --host-name alpha -x 0 \
    --set "shoald/curve_cert=$C/alpha.key_secret" --set "shoald/curve_allow=$C/allow" || exit 1
EP=$("$SHOAL" hosts --json | pyj "d[0]['bind']")
start_worker w9 --capacity 1 --cert "$C/w9.key_secret" --server-key "$C/alpha.key"
check "w9 joins over CURVE" until_true 30 is_alive_with w9 1
check "with the key it proved" test "$(worker_field w9 key)" = \
    "$(sed -n 's/.*public-key = "\(.*\)"/\1/p' "$C/w9.key")"
id=$(submit --type py.upper --payload '{"text":"curve"}')
expect_rc "and runs a job" 0 "$SHOAL" wait --timeout 30 --json "$id"
check "its result" grep -qF '"result":{"text":"CURVE"}' "$TMP/out"
kill -INT "${WPID[w9]}"
wait "${WPID[w9]}"; rc=$?; unset 'WPID[w9]'
check "w9 exits 0 on SIGINT" test "$rc" -eq 0
check "the owner sees it leave" until_true 10 grep -q "worker w9 is lost (it left)" "$TMP/shoald.log"
# libzmq gives up on a link whose key was refused: the worker says so and
# makes its link again, so allowing the key later lets it in.
start_worker w8 --capacity 1 --cert "$C/w8.key_secret" --server-key "$C/alpha.key"
check "w8 (key not allowed) says it was refused" until_true 30 in_log w8 "refused this worker's key"
check "and is not let in" test "$(worker_field w8 state)" = None
cp "$C/w8.key" "$C/allow/"
check "once its key is allowed, w8 joins" until_true 30 is_alive_with w8 1
kill -TERM "${WPID[w8]}"; wait "${WPID[w8]}"; unset 'WPID[w8]'
check "shoald stops cleanly" stop_shoald

finish
