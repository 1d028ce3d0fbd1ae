#!/usr/bin/env bash
# The cluster across real network boundaries. Four network namespaces are
# hosts on one bridge (a fifth namespace): alpha owns the queues
# (shoald --bind, no executors), beta is a member shoald (--join, 2
# executors), gamma a shoal-worker (capacity 2), mallory an outsider with
# a CURVE key that is not allowed. Every link is CURVE. The CLI on this
# host reaches alpha's control endpoint over ipc (a file in $TMP).
#  1. jobs and a workflow run cross hosts: each ran where its record says
#     (node.N@beta / node.N@gamma), on both hosts; hosts and workers list
#     beta and gamma alive;
#  2. kill -9 of every process of beta while it runs jobs: beta is
#     declared lost, its leases requeued (lost_requeued), every job ends
#     once; only the jobs beta was running ran twice;
#  3. an nftables partition of gamma: lost within a bounded wait, its
#     leases requeued and run by beta; healed: gamma is back, the results
#     it sent for its old leases are refused as stale (stale_results), no
#     job ran twice but those gamma was running;
#  4. mallory (key not in the allowlist) and beta with its key revoked
#     reach alpha's port (nftables counters) yet never get in: nothing of
#     theirs is counted or logged by alpha; each says it was refused and
#     tries again, and beta gets in once its key is allowed again. Then
#     jobs run on beta and gamma as before.
# Every wait is bounded. Needs root (namespaces, nftables): skipped
# (exit 77, ctest's SKIP_RETURN_CODE) otherwise.
if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP: needs root to create network namespaces and nftables rules"
    exit 77
fi
. "$(dirname "$0")/lib.sh"
SHOAL_WORKER=${SHOAL_WORKER:-$(dirname "$SHOAL")/shoal-worker}
for t in ip nft jq; do
    if ! command -v $t >/dev/null; then
        echo "FAIL $t is not installed (tools/install-deps.sh installs it)"
        exit 1
    fi
done

NS="shoal-$$"
NSA="$NS-a" NSB="$NS-b" NSC="$NS-c" NSD="$NS-d" NSBR="$NS-br"
NET=10.203.7
A_ADDR=$NET.1 B_ADDR=$NET.2 C_ADDR=$NET.3 D_ADDR=$NET.4
PORT=7451
LINK="tcp://$A_ADDR:$PORT"
RUNLOG="$TMP/runs.log" # every exec job writes 'start|end JOB HOST' here
: >"$RUNLOG"
MON_PID=""

# Leftovers of an earlier run of this test that was killed (no trap ran):
# namespaces named after a shell that is gone.
for ns in $(ip netns list 2>/dev/null | sed -n 's/^\(shoal-[0-9]*-[a-z]*\).*/\1/p'); do
    pid=${ns#shoal-}; pid=${pid%%-*}
    if ! kill -0 "$pid" 2>/dev/null; then
        ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
        ip netns del "$ns" 2>/dev/null
    fi
done

netns_cleanup () {
    local ns
    exec 2>/dev/null # no job notices for the processes killed here
    [ -n "$MON_PID" ] && kill "$MON_PID" 2>/dev/null
    for ns in "$NSA" "$NSB" "$NSC" "$NSD" "$NSBR"; do
        ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
    done
    { wait; } 2>/dev/null # every child: all killed
    SHOALD_PID=""
    for ns in "$NSA" "$NSB" "$NSC" "$NSD" "$NSBR"; do
        ip netns del "$ns" 2>/dev/null
    done
    cleanup # lib.sh: the temp folder
}
trap netns_cleanup EXIT
trap 'exit 130' INT TERM # so that the cleanup runs

# show_logs: the hosts' logs, when something failed
show_logs () {
    local f
    for f in shoald beta gamma mallory; do
        [ -f "$TMP/$f.log" ] || continue
        echo "---- $f.log (last 30 lines)"
        tail -n 30 "$TMP/$f.log"
    done
}

# The network: a bridge in NSBR, one veth from each host to it.
ip netns add "$NSBR" || { echo "FAIL cannot create network namespaces"; exit 1; }
ip -n "$NSBR" link add br0 type bridge
ip -n "$NSBR" link set br0 up
i=1
for h in a b c d; do
    ns="$NS-$h"
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip -n "$NSBR" link add "p$h" type veth peer name eth0 netns "$ns"
    ip -n "$NSBR" link set "p$h" master br0 up
    ip -n "$ns" addr add "$NET.$i/24" dev eth0
    ip -n "$ns" link set eth0 up
    i=$((i + 1))
done
check "four hosts on a bridge ($NET.0/24)" \
    test "$(ip -n "$NSBR" -br link show master br0 | grep -c UP)" -eq 4

# Certificates: one per host, the CLI's, and mallory's (not allowed).
C="$TMP/certs"
mkdir -p "$C/allow"
for n in alpha beta gamma cli mallory; do
    "$SHOAL" keygen "$C" --name "$n" >/dev/null || { echo "FAIL keygen $n"; exit 1; }
done
cp "$C/beta.key" "$C/gamma.key" "$C/cli.key" "$C/allow/"
export SHOAL_CERT="$C/cli.key_secret" SHOAL_SERVER_KEY="$C/alpha.key"

# alpha: lib.sh's start_shoald, run inside its namespace.
REAL_SHOALD=$SHOALD
SHOALD="$TMP/shoald-in-a"
printf '#!/bin/sh\nexec ip netns exec %s "%s" "$@"\n' "$NSA" "$REAL_SHOALD" >"$SHOALD"
chmod +x "$SHOALD"
start_shoald --bind "$LINK" --host-name alpha -x 0 \
    --set "shoald/curve_cert=$C/alpha.key_secret" \
    --set "shoald/curve_allow=$C/allow" || exit 1
check "alpha accepts links over CURVE" \
    grep -q "accepts links on $LINK (CURVE)" "$TMP/shoald.log"

# beta: prefetch 1, so that its executors hold one lease each and work
# is shared with gamma (with the default 1024 beta would take it all).
BETA_PID=""
start_beta () {
    ip netns exec "$NSB" env SHOAL_TEST_HOST=beta "$REAL_SHOALD" \
        --join "$LINK" --host-name beta -x 2 --set executors/prefetch=1 \
        --set "shoald/curve_cert=$C/beta.key_secret" \
        --set "cluster/server_key=$C/alpha.key" >>"$TMP/beta.log" 2>&1 &
    BETA_PID=$!
}
GAMMA_PID=""
ip netns exec "$NSC" env SHOAL_TEST_HOST=gamma "$SHOAL_WORKER" \
    --join "$LINK" --name gamma --cert "$C/gamma.key_secret" \
    --server-key "$C/alpha.key" --capacity 2 >>"$TMP/gamma.log" 2>&1 &
GAMMA_PID=$!
start_beta

# peer_field KIND NAME FIELD: a field of NAME in shoal hosts|workers --json
peer_field () {
    "$SHOAL" "$1" --json 2>/dev/null |
        jq -r --arg n "$2" --arg f "$3" '.[] | select(.name == $n) | .[$f]'
}
# wait_peer KIND NAME STATE [EXECUTORS]: bounded wait (20 s)
wait_peer () {
    local i
    for i in $(seq 1 200); do
        if [ "$(peer_field "$1" "$2" state)" = "$3" ] &&
            { [ -z "${4:-}" ] || [ "$(peer_field "$1" "$2" executors)" = "$4" ]; }; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}
check "beta joins alpha (hosts: alive, 2 executors)" wait_peer hosts beta alive 2
check "gamma joins alpha (workers: alive, 2 executors)" wait_peer workers gamma alive 2
"$SHOAL" hosts >"$TMP/out" 2>&1
sed 's/^/    /' "$TMP/out"
"$SHOAL" workers >"$TMP/out" 2>&1
sed 's/^/    /' "$TMP/out"
check "hosts: alpha is the owner, beta a member" sh -c "
    '$SHOAL' hosts --json | jq -e '(.[] | select(.name == \"alpha\") | .role == \"owner\")
        and (.[] | select(.name == \"beta\") | .role == \"member\" and .kind == \"host\")' >/dev/null"
check "workers: gamma, a worker with its CURVE key" sh -c "
    '$SHOAL' workers --json | jq -e --arg k \"\$(sed -n 's/.*public-key = \"\(.*\)\"/\1/p' '$C/gamma.key')\" \
        '.[] | select(.name == \"gamma\") | .kind == \"worker\" and .key == \$k' >/dev/null"

# Every job.succeeded event, from here on (proven subscribed: a probe
# job's events arrive before anything else is looked at).
"$SHOAL" monitor --monitor "$MONITOR_EP" --topic job. --json --count 1000000 \
    >"$TMP/events" 2>/dev/null &
MON_PID=$!
for i in $(seq 1 200); do
    "$SHOAL" submit --type noop >/dev/null 2>&1
    grep -q '"topic":"job.succeeded"' "$TMP/events" && break
    sleep 0.05
done
check "the monitor sees job events" grep -q '"topic":"job.succeeded"' "$TMP/events"

# batch_exec N SECONDS: submits N exec jobs at once; each writes
# 'start ID HOST' and 'end ID HOST' to RUNLOG around a sleep; prints the
# job ids, one a line.
batch_exec () {
    local n=$1 s=$2 k
    local cmd="echo start \$SHOAL_JOB_ID \$SHOAL_TEST_HOST >> $RUNLOG; sleep $s;"
    cmd="$cmd echo end \$SHOAL_JOB_ID \$SHOAL_TEST_HOST >> $RUNLOG; echo \$SHOAL_TEST_HOST"
    for k in $(seq 1 "$n"); do
        jq -cn --arg c "$cmd" '{type: "exec", payload: {argv: ["sh", "-c", $c]}}'
    done >"$TMP/batch.jsonl"
    "$SHOAL" batch submit "$TMP/batch.jsonl" | tail -n "$n"
}
# started_on HOST IDS_FILE: how many of the jobs have started on HOST
started_on () {
    grep -F -f "$2" "$RUNLOG" | grep -c "^start .* $1\$"
}
# wait_all IDS_FILE: waits for every job, 60 s in all; prints how many
# did not succeed
wait_all () {
    local id bad=0 left end=$(($(date +%s) + 60))
    while read -r id; do
        left=$((end - $(date +%s)))
        [ "$left" -ge 1 ] || left=1
        "$SHOAL" wait --timeout "$left" "$id" >/dev/null 2>&1 || bad=$((bad + 1))
    done <"$1"
    echo "$bad"
}
# executors_of IDS_FILE: 'ID EXECUTOR' for each job (from its record)
executors_of () {
    local id
    while read -r id; do
        echo "$id $("$SHOAL" status --json "$id" | jq -r '.executor // ""')"
    done <"$1"
}
stat_of () { "$SHOAL" stats --json | jq -r ".$1"; }
# leased_on HOST: the ids of the jobs leased to HOST's executors now
leased_on () {
    "$SHOAL" list --state leased --json |
        jq -r --arg h "@$1" 'select(.executor? // "" | endswith($h)) | .id' | sort
}
# attempts_within IDS ALLOWED...: every job of IDS ran as attempt 1, but
# those in the ALLOWED files (a lease lost with its host counts as an
# attempt: it may have run)
attempts_within () {
    local ids=$1 id a bad=0
    shift
    while read -r id; do
        a=$("$SHOAL" status --json "$id" | jq -r .attempt)
        if [ "$a" != 1 ] && { [ "$a" != 2 ] || ! cat "$@" | grep -qx "$id"; }; then
            echo "    $id: attempt $a"
            bad=$((bad + 1))
        fi
    done <"$ids"
    [ "$bad" -eq 0 ]
}

# ---------------------------------------------------------------------
# 1. Jobs and a workflow run across hosts.
batch_exec 8 0.3 >"$TMP/ids1"
check "8 jobs submitted" test "$(wc -l <"$TMP/ids1")" -eq 8
check "all 8 succeed" test "$(wait_all "$TMP/ids1")" -eq 0
executors_of "$TMP/ids1" >"$TMP/ex1"
check "each executor is node.N@beta or node.N@gamma" \
    test "$(grep -cE ' node\.[0-9]+@(beta|gamma)$' "$TMP/ex1")" -eq 8
check "both hosts ran jobs" sh -c "grep -q '@beta\$' '$TMP/ex1' && grep -q '@gamma\$' '$TMP/ex1'"
where_ok=0
while read -r id ex; do
    host=${ex#*@}
    if [ "$(grep -c "^end $id $host\$" "$RUNLOG")" -eq 1 ] &&
        [ "$(grep -c " $id " "$RUNLOG")" -eq 2 ] &&
        "$SHOAL" status --json "$id" | jq -e --arg h "$host" \
            '.result.stdout | startswith($h)' >/dev/null; then
        where_ok=$((where_ok + 1))
    fi
done <"$TMP/ex1"
check "each ran once, in the namespace its record names ($where_ok/8)" test "$where_ok" -eq 8

EX="$(dirname "$0")/../../examples/workflows"
expect_rc "workflow define etl" 0 "$SHOAL" workflow define "$EX/etl.json"
run=$("$SHOAL" workflow run etl --input '{"rows": 3}' | tail -n 1)
expect_rc "workflow run etl succeeds" 0 "$SHOAL" wait --timeout 60 "$run"
"$SHOAL" workflow show "$run" --json >"$TMP/show" 2>/dev/null
jq -r '.nodes[] | select(.job != null) | .job' "$TMP/show" >"$TMP/wfjobs"
executors_of "$TMP/wfjobs" >"$TMP/wfex"
check "its $(wc -l <"$TMP/wfjobs") node jobs ran on beta or gamma" sh -c "
    test \$(wc -l <'$TMP/wfex') -ge 5 &&
    test \$(grep -cE ' node\.[0-9]+@(beta|gamma)\$' '$TMP/wfex') -eq \$(wc -l <'$TMP/wfex')"

# ---------------------------------------------------------------------
# 2. kill -9 of the whole beta host while it runs jobs.
lost0=$(stat_of lost_requeued)
batch_exec 10 1.5 >"$TMP/ids2"
for i in $(seq 1 200); do
    [ "$(started_on beta "$TMP/ids2")" -ge 2 ] && break
    sleep 0.05
done
check "beta runs 2 jobs" test "$(started_on beta "$TMP/ids2")" -ge 2
exec 4>&2 2>/dev/null # no "Killed" job notice from the shell
ip netns pids "$NSB" | xargs -r kill -9
wait "$BETA_PID"
exec 2>&4 4>&-
leased_on beta >"$TMP/leased2" # what alpha will requeue
# what beta was running: started there, never ended (killed with it)
grep -F -f "$TMP/ids2" "$RUNLOG" >"$TMP/log2"
awk '$3 == "beta" {n[$2] += ($1 == "start") ? 1 : -1} END {for (j in n) if (n[j] > 0) print j}' \
    "$TMP/log2" | sort >"$TMP/inflight2"
echo "    beta killed while running $(wc -l <"$TMP/inflight2") job(s)"
check "beta is declared lost" wait_peer hosts beta lost
check "alpha logs why" grep -q "host beta is lost (no heartbeat for" "$TMP/shoald.log"
lost1=$(stat_of lost_requeued)
check "its leases are requeued (lost_requeued $lost0 -> $lost1)" \
    test "$lost1" -ge $((lost0 + $(wc -l <"$TMP/inflight2")))
check "all 10 jobs succeed (gamma alone)" test "$(wait_all "$TMP/ids2")" -eq 0
grep -F -f "$TMP/ids2" "$RUNLOG" >"$TMP/log2"
twice=0 wrong=0
while read -r id; do
    starts=$(grep -c "^start $id " "$TMP/log2")
    ends=$(grep -c "^end $id " "$TMP/log2")
    [ "$ends" -eq 1 ] || wrong=$((wrong + 1))
    if [ "$starts" -gt 1 ]; then
        twice=$((twice + 1))
        grep -qx "$id" "$TMP/inflight2" || wrong=$((wrong + 1))
    fi
done <"$TMP/ids2"
check "each job completed once; $twice ran again, all of them beta's in flight ($wrong wrong)" \
    test "$wrong" -eq 0
check "attempt 2 only for jobs leased on beta when it died" \
    attempts_within "$TMP/ids2" "$TMP/inflight2" "$TMP/leased2"
# restart beta: it comes back (needed for 3)
start_beta
check "beta restarted: alive again" wait_peer hosts beta alive 2

# ---------------------------------------------------------------------
# 3. Partition gamma from alpha with nftables, then heal. Jobs of 5 s:
#    gamma finishes its two after its link is gone (ZMTP heartbeats close
#    it ~2 s into the partition), so their results wait in its queue and
#    reach alpha after the heal, for leases that are no longer gamma's.
lost0=$(stat_of lost_requeued)
stale0=$(stat_of stale_results)
batch_exec 4 5 >"$TMP/ids3"
for i in $(seq 1 200); do
    [ "$(started_on gamma "$TMP/ids3")" -ge 2 ] && break
    sleep 0.05
done
check "gamma runs 2 jobs" test "$(started_on gamma "$TMP/ids3")" -ge 2
k0=$(wc -l <"$RUNLOG")
t0=$(date +%s%N)
ip netns exec "$NSC" nft -f - <<EOF
table inet shoal_partition {
    chain input { type filter hook input priority 0; ip saddr $A_ADDR drop; }
    chain output { type filter hook output priority 0; ip daddr $A_ADDR drop; }
}
EOF
k1=$(wc -l <"$RUNLOG")
leased_on gamma >"$TMP/leased3"
# in flight on gamma at the partition: started before the rule was in
# place, not ended before it began
head -n "$k1" "$RUNLOG" | awk '$1 == "start" && $3 == "gamma" {print $2}' | sort -u >"$TMP/g_started"
head -n "$k0" "$RUNLOG" | awk '$1 == "end" && $3 == "gamma" {print $2}' | sort -u >"$TMP/g_ended"
comm -23 "$TMP/g_started" "$TMP/g_ended" | grep -xF -f "$TMP/ids3" >"$TMP/inflight3"
n3=$(wc -l <"$TMP/inflight3")
echo "    partitioned gamma while it ran $n3 job(s)"
lost_seen=0
for i in $(seq 1 100); do # 10 s
    if [ "$(peer_field workers gamma state)" = lost ]; then
        lost_seen=1
        break
    fi
    sleep 0.1
done
t1=$(date +%s%N)
check "gamma is declared lost within 10 s of the partition" test "$lost_seen" = 1
beat=$(sed -n 's/.*worker gamma is lost (no heartbeat for \([0-9]*\) ms).*/\1/p' \
    "$TMP/shoald.log" | tail -n 1)
echo "    (measured: declared lost ${beat:-?} ms after gamma's last heartbeat;" \
    "seen lost by the CLI $(((t1 - t0) / 1000000)) ms after the partition began)"
# The target: leases requeued within 3 s of the last heartbeat, on the
# owner's clock (the requeue is in the same pass that declares it lost).
check "failover within the 3 s target (${beat:-?} ms after the last heartbeat)" \
    test "${beat:-99999}" -lt 3000
lost1=$(stat_of lost_requeued)
check "gamma's leases are requeued (lost_requeued $lost0 -> $lost1)" \
    test "$lost1" -ge $((lost0 + n3))
check "all 4 jobs succeed while gamma is cut off" test "$(wait_all "$TMP/ids3")" -eq 0
executors_of "$TMP/inflight3" >"$TMP/ex3"
check "gamma's were completed by beta" \
    test "$(grep -c ' node\.[0-9]*@beta$' "$TMP/ex3")" -eq "$n3"
gamma_ends () { grep -F -f "$TMP/inflight3" "$RUNLOG" | grep -c '^end .* gamma$'; }
for i in $(seq 1 100); do # gamma, cut off, runs its own to the end
    [ "$(gamma_ends)" -eq "$n3" ] && break
    sleep 0.1
done
check "gamma, cut off, finished them too" test "$(gamma_ends)" -eq "$n3"
check "no result from gamma yet (stale_results $stale0)" \
    test "$(stat_of stale_results)" -eq "$stale0"
ip netns exec "$NSC" nft delete table inet shoal_partition
check "healed: gamma is alive again" wait_peer workers gamma alive 2
check "alpha logs it back" grep -q "worker gamma is back" "$TMP/shoald.log"
stale1=$stale0
for i in $(seq 1 100); do
    stale1=$(stat_of stale_results)
    [ "$stale1" -ge $((stale0 + n3)) ] && break
    sleep 0.1
done
check "gamma's late results are refused as stale (stale_results $stale0 -> $stale1)" \
    test "$stale1" -ge $((stale0 + n3))
grep -F -f "$TMP/ids3" "$RUNLOG" >"$TMP/log3"
twice=0 wrong=0
while read -r id; do
    starts=$(grep -c "^start $id " "$TMP/log3")
    if [ "$starts" -gt 1 ]; then
        twice=$((twice + 1))
        grep -qx "$id" "$TMP/inflight3" || wrong=$((wrong + 1))
    fi
    [ "$starts" -ge 1 ] || wrong=$((wrong + 1))
done <"$TMP/ids3"
check "$twice job(s) ran twice, all of them gamma's in flight ($wrong wrong)" \
    test "$wrong" -eq 0
check "attempt 2 only for jobs leased on gamma when it was cut off" \
    attempts_within "$TMP/ids3" "$TMP/inflight3" "$TMP/leased3"
check "jobs of 1 kept attempt 1" attempts_within "$TMP/ids1"
check "no job of 1 or 2 ran again" test "$(grep -F -f "$TMP/ids1" "$RUNLOG" | wc -l)" -eq 16 \
    -a "$(grep -F -f "$TMP/ids2" "$RUNLOG" | wc -l)" -eq "$(wc -l <"$TMP/log2")"

# Every job of 1-3 succeeded exactly once (its job.succeeded events).
cat "$TMP/ids1" "$TMP/ids2" "$TMP/ids3" "$TMP/wfjobs" >"$TMP/ids_all"
jq -r 'select(.topic == "job.succeeded") | .id' "$TMP/events" 2>/dev/null |
    grep -xF -f "$TMP/ids_all" | sort | uniq -c >"$TMP/succ"
check "one job.succeeded event per job ($(wc -l <"$TMP/succ") of $(wc -l <"$TMP/ids_all"))" \
    sh -c "test \$(wc -l <'$TMP/succ') -eq \$(wc -l <'$TMP/ids_all') &&
        ! awk '\$1 != 1' '$TMP/succ' | grep -q ."

# ---------------------------------------------------------------------
# 4. Keys that are not allowed: refused in the CURVE handshake (ZAP),
#    before any frame. Named nftables counters in alpha's namespace prove
#    the attempts reach alpha's port, and that they ended (FIN or RST).
ip netns exec "$NSA" nft -f - <<EOF
table inet shoal_count {
    counter from_d {}
    counter fin_d {}
    counter from_b {}
    counter fin_b {}
    chain input {
        type filter hook input priority 0;
        ip saddr $D_ADDR tcp dport $PORT counter name "from_d"
        ip saddr $D_ADDR tcp dport $PORT tcp flags & (fin | rst) != 0 counter name "fin_d"
        ip saddr $B_ADDR tcp dport $PORT counter name "from_b"
        ip saddr $B_ADDR tcp dport $PORT tcp flags & (fin | rst) != 0 counter name "fin_b"
    }
}
EOF
# packets NAME: packets counted by that counter in alpha's namespace
packets () {
    ip netns exec "$NSA" nft -j list counter inet shoal_count "$1" |
        jq -r '.nftables[] | select(.counter) | .counter.packets'
}
# registry_counter NAME: a counter of alpha's registry (shoal hosts --json)
registry_counter () {
    "$SHOAL" hosts --json | jq -r --arg c "$1" '.[] | select(.name == "alpha") | .counters[$c]'
}
# the cluster as alpha's registry sees it: names, states, times lost
table_now () {
    { "$SHOAL" hosts --json; "$SHOAL" workers --json; } |
        jq -c '.[] | select(.name != "alpha") | {name, state, lost}' | tr -d '\n'
}
refused0=$(registry_counter refused)
malformed0=$(registry_counter malformed)
table0=$(table_now)
ip netns exec "$NSD" env SHOAL_TEST_HOST=mallory "$SHOAL_WORKER" \
    --join "$LINK" --name mallory --cert "$C/mallory.key_secret" \
    --server-key "$C/alpha.key" --capacity 2 >>"$TMP/mallory.log" 2>&1 &
MALLORY_PID=$!
for i in $(seq 1 150); do # 15 s: it tries again every 2 s
    [ "$(packets fin_d)" -ge 2 ] && break
    sleep 0.1
done
check "mallory's handshakes reached alpha and ended ($(packets from_d) packets, $(packets fin_d) FIN/RST)" \
    test "$(packets fin_d)" -ge 2
check "mallory says it was refused" grep -q "refused this host's key" "$TMP/mallory.log"
check "mallory is in neither hosts nor workers" sh -c "
    ! '$SHOAL' hosts --json | grep -q mallory && ! '$SHOAL' workers --json | grep -q mallory"
check "nothing of it counted (refused $refused0, malformed $malformed0: unchanged)" \
    test "$(registry_counter refused)" = "$refused0" -a "$(registry_counter malformed)" = "$malformed0"
check "the cluster table is unchanged" test "$(table_now)" = "$table0"
check "alpha logs nothing of mallory" sh -c "! grep -qi mallory '$TMP/shoald.log'"
check "mallory never linked" sh -c "! grep -q 'linked to' '$TMP/mallory.log'"

# Revoke beta: its key leaves the allowlist, beta restarts.
rm "$C/allow/beta.key"
kill "$BETA_PID" 2>/dev/null
wait "$BETA_PID" 2>/dev/null
check "beta stopped: it left (lost)" wait_peer hosts beta lost
joins0=$(grep -c 'host beta joined\|host beta is back' "$TMP/shoald.log")
table0=$(table_now)
frames0=$(peer_field hosts beta frames)
fin0=$(packets fin_b)
from0=$(packets from_b)
mv "$TMP/beta.log" "$TMP/beta-before.log"
start_beta
for i in $(seq 1 150); do # 15 s
    [ "$(packets fin_b)" -gt "$fin0" ] && break
    sleep 0.1
done
check "revoked beta's handshake reached alpha and ended ($(($(packets from_b) - from0)) packets)" \
    test "$(packets fin_b)" -gt "$fin0"
check "beta stays lost; nothing of it counted (refused, malformed, its $frames0 frames)" \
    test "$(table_now)" = "$table0" -a "$(registry_counter refused)" = "$refused0" \
    -a "$(registry_counter malformed)" = "$malformed0" \
    -a "$(peer_field hosts beta frames)" = "$frames0"
check "revoked beta never linked" sh -c "! grep -q 'linked to' '$TMP/beta.log'"
check "beta says it was refused" grep -q "refused this host's key" "$TMP/beta.log"
check "alpha logs no beat from it" \
    test "$(grep -c 'host beta joined\|host beta is back' "$TMP/shoald.log")" -eq "$joins0"
# Allowed again: beta, still running, gets in at its next try.
cp "$C/beta.key" "$C/allow/"
check "beta's key allowed again: beta is back without a restart" wait_peer hosts beta alive 2
# The cluster still works for the keys allowed: jobs on both hosts.
batch_exec 8 0.3 >"$TMP/ids5"
check "8 more jobs succeed" test "$(wait_all "$TMP/ids5")" -eq 0
executors_of "$TMP/ids5" >"$TMP/ex5"
check "on beta (back) and gamma (healed)" \
    sh -c "grep -q ' node\.[0-9]*@beta\$' '$TMP/ex5' && grep -q ' node\.[0-9]*@gamma\$' '$TMP/ex5'"

# Everyone stops in order (under sanitizers: no leak, relinks included).
for p in "$BETA_PID:beta" "$GAMMA_PID:gamma" "$MALLORY_PID:mallory"; do
    kill -TERM "${p%%:*}"
    wait "${p%%:*}"
    rc=$?
    check "${p#*:} stops cleanly (exit $rc)" test "$rc" -eq 0
done
check "clean shutdown" stop_shoald
[ "$FAILED" -eq 0 ] || show_logs
finish
