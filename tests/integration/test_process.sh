#!/usr/bin/env bash
# Executors as process actors: jobs run in child processes connected over
# ipc://; a child killed with SIGKILL is restarted by the supervisor and
# the job it held is run again (attempt 2).
. "$(dirname "$0")/lib.sh"
start_shoald --mode process --executors 2 || exit 1
id=$("$SHOAL" submit --type echo --payload '{"in":"process"}')
expect_rc "job runs in a process actor" 0 "$SHOAL" wait --timeout 30 --json "$id"
check "echo result" grep -q '"result":{"in":"process"}' "$TMP/out"

long=$("$SHOAL" submit --type sleep --retry fixed:max=3,delay=10ms --payload '{"ms":600000}')
node=""
for i in $(seq 1 500); do
    "$SHOAL" status --json "$long" | grep -q '"running":true' || continue
    node=$("$SHOAL" status --json "$long" | sed -n 's/.*"executor":"\([^"]*\)".*/\1/p')
    [ -n "$node" ] && break
done
check "long job running on a process executor ($node)" test -n "$node"
pid=$(pgrep -f -- "--actor node --name $node --bus ipc://$TMP/" | head -n 1)
check "found its process ($pid)" test -n "$pid"
kill -9 "$pid"
# The run was under way when its executor died: a failed attempt
# (executor_lost), retried per its policy as attempt 2.
for i in $(seq 1 1000); do
    "$SHOAL" status --json "$long" | grep -q '"attempt":2' && break
done
expect_rc "job re-leased after the executor was killed" 0 "$SHOAL" status --json "$long"
check "attempt 2" grep -q '"attempt":2' "$TMP/out"
check "restart logged" grep -q "restarting" "$TMP/shoald.log"
check "class executor_lost" grep -q '"error_class":"executor_lost"' "$TMP/out"
id=$("$SHOAL" submit --type noop)
expect_rc "executors still serve" 0 "$SHOAL" wait --timeout 30 "$id"

# Without retries, a job whose run kills its executor ends in the DLQ.
long=$("$SHOAL" submit --type sleep --payload '{"ms":600000}')
node=""
for i in $(seq 1 500); do
    "$SHOAL" status --json "$long" | grep -q '"running":true' || continue
    node=$("$SHOAL" status --json "$long" | sed -n 's/.*"executor":"\([^"]*\)".*/\1/p')
    [ -n "$node" ] && break
done
pid=$(pgrep -f -- "--actor node --name $node --bus ipc://$TMP/" | head -n 1)
kill -9 "$pid"
expect_rc "crashing run ends dead" 4 "$SHOAL" wait --timeout 30 --json "$long"
check "state dead" grep -q '"state":"dead"' "$TMP/out"
check "clean shutdown" stop_shoald
left=$(pgrep -f -- "--actor node --name node.[0-9]* --bus ipc://$TMP" | wc -l)
check "no executor process left ($left)" test "$left" -eq 0
finish
