#!/usr/bin/env bash
# End to end through the CLI: every command, every built-in handler, exit
# codes, --json output, and clean shutdown.
. "$(dirname "$0")/lib.sh"

SHOAL_TIMEOUT=0.5 expect_rc "no daemon: exit 3" 3 "$SHOAL" -e "ipc://$TMP/nobody.sock" ping
expect_rc "no command: usage 2" 2 "$SHOAL"
expect_rc "unknown command: usage 2" 2 "$SHOAL" frobnicate
expect_rc "submit without --type: 2" 2 "$SHOAL" submit
expect_rc "bad priority: 2" 2 "$SHOAL" submit --type noop --priority urgent
expect_rc "bad payload JSON: 2" 2 "$SHOAL" submit --type noop --payload '{x'
expect_rc "bad job id: 2" 2 "$SHOAL" status not-an-id

# keygen: a CURVE pair on disk, no daemon needed; the secret is 0600.
expect_rc "keygen" 0 "$SHOAL" keygen "$TMP/certs" --name hostA
check "prints the public key" grep -q "^public key  .\{40\}$" "$TMP/out"
check "public certificate" grep -q 'public-key = "' "$TMP/certs/hostA.key"
check "secret certificate" grep -q 'secret-key = "' "$TMP/certs/hostA.key_secret"
check "secret is the owner's only" test "$(stat -c %a "$TMP/certs/hostA.key_secret")" = 600
expect_rc "keygen keeps an existing pair" 1 "$SHOAL" keygen "$TMP/certs" --name hostA
check "says so" grep -q "already has a certificate named hostA" "$TMP/err"
expect_rc "keygen --force replaces it" 0 "$SHOAL" keygen "$TMP/certs" --name hostA --force
expect_rc "keygen bad name: 2" 2 "$SHOAL" keygen "$TMP/certs" --name ../x
expect_rc "keygen without a folder: 2" 2 "$SHOAL" keygen

# shoald binds its control and monitor endpoints to ipc or loopback
# only (no CURVE on them yet): anything else is refused before binding.
expect_rc "control on 0.0.0.0: refused" 2 "$SHOALD" --data "$TMP/nobind" \
    --control tcp://0.0.0.0:5999 --monitor "ipc://$TMP/nobind-m.sock"
check "says why and how to force it" grep -q "refusing to bind control tcp://0.0.0.0:5999.*insecure_bind=1" "$TMP/err"
expect_rc "monitor on a wildcard: refused" 2 "$SHOALD" --data "$TMP/nobind" \
    --control "ipc://$TMP/nobind-c.sock" --monitor 'tcp://*:5998'
# forced: the check lets it through (TEST-NET-1 is not on this host, so
# the bind itself then fails: no socket is opened)
expect_rc "forced: past the check, to the bind" 3 "$SHOALD" --data "$TMP/nobind" \
    --control tcp://192.0.2.1:5999 --monitor "ipc://$TMP/nobind-m.sock" \
    --set shoald/insecure_bind=1
check "warned, then could not bind" sh -c "grep -q 'reachable from other hosts without security' '$TMP/err' && grep -q 'cannot bind tcp://192.0.2.1:5999' '$TMP/err'"
# cluster links: the same rule for the link endpoint, and clear errors
expect_rc "link on 0.0.0.0 without CURVE: refused" 2 "$SHOALD" --data "$TMP/nobind" \
    --control "ipc://$TMP/nobind-c.sock" --monitor "ipc://$TMP/nobind-m.sock" \
    --bind tcp://0.0.0.0:5997
check "says so for the link" grep -q "refusing to bind link tcp://0.0.0.0:5997" "$TMP/err"
expect_rc "a link endpoint that is no endpoint: 2" 2 "$SHOALD" --bind foo
check "says what it wants" grep -q "cluster/bind 'foo': want tcp://ADDR:PORT" "$TMP/err"
expect_rc "a link port over 65535: 2" 2 "$SHOALD" --bind tcp://127.0.0.1:99999
expect_rc "bind and join at once: 2" 2 "$SHOALD" --bind tcp://127.0.0.1:5996 \
    --join tcp://127.0.0.1:5995
expect_rc "server_key without a certificate: 2" 2 "$SHOALD" \
    --join tcp://127.0.0.1:5995 --set cluster/server_key=x
expect_rc "shoal-worker without --join: 2" 2 "$(dirname "$SHOALD")/shoal-worker"
expect_rc "shoal-worker --capacity 0: 2" 2 "$(dirname "$SHOALD")/shoal-worker" \
    --join tcp://127.0.0.1:5995 --capacity 0
expect_rc "shoal-worker bad label: 2" 2 "$(dirname "$SHOALD")/shoal-worker" \
    --join tcp://127.0.0.1:5995 --label 'no good'
expect_rc "shoald bad option: 2" 2 "$SHOALD" --bogus
expect_rc "shoald bad sync: 2" 2 "$SHOALD" --data "$DATA" --sync sometimes

start_shoald || exit 1
check "ping" "$SHOAL" ping

id=$("$SHOAL" submit --type echo --payload '{"x":1,"s":"hi"}' --queue q1 \
     --priority high | tail -n 1)
check "submit prints a 32-hex id" test "${#id}" -eq 32
expect_rc "wait echo: exit 0" 0 "$SHOAL" wait --timeout 30 --json "$id"
out=$(cat "$TMP/out")
check "echo result is the payload" \
    test "$(json_field "$out" state)" = succeeded -a -n "$(printf '%s' "$out" | grep -F '"result":{"x":1,"s":"hi"}')"
check "queue and priority kept" \
    test "$(json_field "$out" queue)" = q1 -a "$(json_field "$out" priority)" = high
check "attempt is 1" test "$(json_field "$out" attempt)" = 1

id=$("$SHOAL" submit --type fail --payload '{"message":"boom"}' | tail -n 1)
expect_rc "wait fail: exit 4" 4 "$SHOAL" wait --timeout 30 --json "$id"
check "fail error text" grep -q '"error":"boom"' "$TMP/out"

id=$("$SHOAL" submit --type nosuchtype | tail -n 1)
expect_rc "unknown handler fails: exit 4" 4 "$SHOAL" wait --timeout 30 "$id"

id=$("$SHOAL" submit --type noop | tail -n 1)
expect_rc "noop: exit 0" 0 "$SHOAL" wait --timeout 30 "$id"

id=$("$SHOAL" submit --type sleep --payload '{"ms":60000}' | tail -n 1)
expect_rc "wait timeout: exit 5" 5 "$SHOAL" wait --timeout 0.2 "$id"
expect_rc "status of running job" 0 "$SHOAL" status --json "$id"
check "state is leased" grep -q '"state":"leased"' "$TMP/out"

# scheduling, idempotency, retry policies, the dead-letter queue
id=$("$SHOAL" submit --type noop --delay 1h)
expect_rc "delayed job status" 0 "$SHOAL" status --json "$id"
check "delayed job is scheduled" grep -q '"state":"scheduled"' "$TMP/out"
check "run_at is set" grep -q '"run_at_us":' "$TMP/out"
a=$("$SHOAL" submit --type noop --key order-7)
b=$("$SHOAL" submit --type noop --key order-7)
check "same key, same job" test "$a" = "$b"
expect_rc "bad retry policy: 2" 2 "$SHOAL" submit --type noop --retry sometimes
check "says why" grep -q "unknown kind" "$TMP/err"
expect_rc "bad --at: 2" 2 "$SHOAL" submit --type noop --at tomorrow
expect_rc "bad --delay: 2" 2 "$SHOAL" submit --type noop --delay 5parsecs
dead=$("$SHOAL" submit --type fail --retry none --payload '{"message":"to the dlq"}')
expect_rc "wait dead job: 4" 4 "$SHOAL" wait --timeout 30 --json "$dead"
check "state dead" grep -q '"state":"dead"' "$TMP/out"
expect_rc "dlq list" 0 "$SHOAL" dlq list
check "dlq lists it" grep -q "$dead" "$TMP/out"
expect_rc "list --state dead --json" 0 "$SHOAL" list --state dead --json
check "json lines" grep -q "\"id\":\"$dead\"" "$TMP/out"
expect_rc "dlq retry" 0 "$SHOAL" dlq retry "$dead"
expect_rc "retried job dies again" 4 "$SHOAL" wait --timeout 30 "$dead"
expect_rc "dlq purge one" 0 "$SHOAL" dlq purge "$dead"
expect_rc "purged job is gone" 1 "$SHOAL" status "$dead"
expect_rc "dlq retry of a live job is refused" 1 "$SHOAL" dlq retry "$id"

# exec: a real subprocess; JSON on stdout becomes the result's json
id=$("$SHOAL" submit --type exec --payload '{"argv":["sh","-c","read x; echo \"{\\\"n\\\": $N, \\\"in\\\": \\\"$x\\\"}\""],"env":{"N":"7"},"stdin":"hello"}')
expect_rc "exec job succeeds" 0 "$SHOAL" wait --timeout 30 --json "$id"
check "exec exit code 0" grep -q '"exit_code":0' "$TMP/out"
check "exec stdout captured" grep -q '"stdout":"{' "$TMP/out"
check "exec json result (env and stdin)" grep -q '"json":{"n":7,"in":"hello"}' "$TMP/out"
id=$("$SHOAL" submit --type exec --payload '{"argv":["sh","-c","echo $SHOAL_JOB_ID $SHOAL_IDEMPOTENCY_KEY $SHOAL_ATTEMPT $SHOAL_QUEUE"]}')
expect_rc "exec with the job's context" 0 "$SHOAL" wait --timeout 30 --json "$id"
check "exec sees its job id (twice: the idempotency key), attempt and queue" \
    grep -q "\"stdout\":\"$id $id 1 default" "$TMP/out"
id=$("$SHOAL" submit --type exec --payload '{"argv":["sh","-c","echo oops >&2; exit 3"]}')
expect_rc "exec exit 3 fails" 4 "$SHOAL" wait --timeout 30 --json "$id"
check "exec class exit:3" grep -q '"error_class":"exit:3"' "$TMP/out"
check "exec stderr kept" grep -q '"stderr":"oops' "$TMP/out"
id=$("$SHOAL" submit --type exec --timeout 200ms --payload '{"argv":["sleep","30"]}')
expect_rc "exec timeout fails" 4 "$SHOAL" wait --timeout 30 --json "$id"
check "exec class timeout" grep -q '"error_class":"timeout"' "$TMP/out"

# cancel: a waiting job, and a running exec (its process is stopped)
id=$("$SHOAL" submit --type noop --delay 1h)
expect_rc "cancel a scheduled job" 0 "$SHOAL" cancel "$id"
expect_rc "wait on a cancelled job: 4" 4 "$SHOAL" wait --timeout 5 --json "$id"
check "state cancelled" grep -q '"state":"cancelled"' "$TMP/out"
expect_rc "cancel again: refused" 1 "$SHOAL" cancel "$id"
expect_rc "retry a cancelled job" 0 "$SHOAL" retry "$id"
expect_rc "it runs again" 0 "$SHOAL" wait --timeout 30 "$id"
id=$("$SHOAL" submit --type exec --payload "{\"argv\":[\"sh\",\"-c\",\"echo \$\$ > $TMP/cancel.pid; exec sleep 600\"]}")
for i in $(seq 1 2000); do [ -s "$TMP/cancel.pid" ] && break; sleep 0.01; done
expect_rc "cancel a running exec" 0 "$SHOAL" cancel "$id"
expect_rc "status of the cancelled exec" 0 "$SHOAL" status --json "$id"
check "it is no longer running" sh -c "! grep -q '\"running\":true' '$TMP/out'"
pid=$(cat "$TMP/cancel.pid")
for i in $(seq 1 500); do kill -0 "$pid" 2>/dev/null || break; sleep 0.01; done
check "its process is gone" sh -c "! kill -0 $pid 2>/dev/null"
id=$("$SHOAL" submit --type noop)
expect_rc "executors still serve after a cancel" 0 "$SHOAL" wait --timeout 30 "$id"

# queue settings are stored and listed
expect_rc "queue set" 0 "$SHOAL" queue set mail --concurrency 2 --rate 50/s --burst 5
expect_rc "queue list" 0 "$SHOAL" queue list
check "queue list shows mail" grep -q '"name":"mail","paused":false,"concurrency":2' "$TMP/out"
expect_rc "bad rate: refused" 1 "$SHOAL" queue set mail --rate fast
expect_rc "pause without a daemon-side queue name is the host" 0 "$SHOAL" pause
expect_rc "resume host" 0 "$SHOAL" resume

# recurring jobs
expect_rc "schedule add" 0 "$SHOAL" schedule add tick --cron "*/5 * * * *" --type noop --queue cron
check "schedule shows its next time" grep -q '"next_us":' "$TMP/out"
expect_rc "schedule add with a bad cron: refused" 1 "$SHOAL" schedule add bad --cron "* 25 * * *" --type noop
check "says which field" grep -q "hour" "$TMP/err"
expect_rc "schedule list" 0 "$SHOAL" schedule list
check "lists it" grep -q '"name":"tick"' "$TMP/out"
expect_rc "schedule rm" 0 "$SHOAL" schedule rm tick
expect_rc "schedule rm again: not found" 1 "$SHOAL" schedule rm tick
# a schedule's jobs take its retry policy and timeout
expect_rc "schedule add --retry --timeout" 0 "$SHOAL" schedule add flaky \
    --cron "* * * * * *" --type fail --queue flaky --retry fixed:max=2,delay=10ms --timeout 5s
check "retry shown" grep -q '"retry":"fixed:max=2,delay=10ms' "$TMP/out"
check "timeout shown" grep -q '"timeout_ms":5000' "$TMP/out"
expect_rc "schedule add --retry bad: usage" 2 "$SHOAL" schedule add bad2 \
    --cron "* * * * *" --type noop --retry sometimes
for i in $(seq 1 300); do
    "$SHOAL" list --queue flaky --state dead --json >"$TMP/flaky" 2>/dev/null
    grep -q '"id"' "$TMP/flaky" && break
    sleep 0.02
done
check "a fired job used the schedule's policy (2 attempts, then dead)" \
    grep -q '"attempt":2' "$TMP/flaky"
check "and its timeout" grep -q '"timeout_ms":5000' "$TMP/flaky"
expect_rc "schedule rm flaky" 0 "$SHOAL" schedule rm flaky

# per-queue stats come from the scheduler
expect_rc "stats --queues --json" 0 "$SHOAL" stats --queues --json
check "lists queue q1 with counters" grep -q '"name":"q1".*"ready":{"critical":0' "$TMP/out"
expect_rc "stats --queues" 0 "$SHOAL" stats --queues
check "table header" grep -q "INFLIGHT" "$TMP/out"

# hot backup: a compacted copy that another shoald can open
expect_rc "backup" 0 "$SHOAL" backup "$TMP/backup"
check "backup written" test -s "$TMP/backup/data.mdb"
expect_rc "backup into a non-empty folder fails" 1 "$SHOAL" backup "$TMP/backup"
expect_rc "backup of the copy is readable (mdb_stat)" 0 mdb_stat -a "$TMP/backup"
check "copy holds the jobs table" grep -q "Status of jobs" "$TMP/out"

expect_rc "status unknown id: exit 1" 1 "$SHOAL" status 0123456789abcdef0123456789abcdef
check "says not found" grep -q NOT_FOUND "$TMP/err"

expect_rc "stats --json" 0 "$SHOAL" stats --json
n=$(sed -n 's/.*"succeeded":\([0-9]*\).*/\1/p' "$TMP/out")
listed=$("$SHOAL" list --state succeeded --json --all | wc -l)
# paging by hand: --limit 2, the cursor comes as the last JSON line
expect_rc "list --limit 2 --json" 0 "$SHOAL" list --state succeeded --limit 2 --json
cursor=$(sed -n 's/^{"next":"\([^"]*\)"}$/\1/p' "$TMP/out")
grep -o '"id":"[0-9a-f]*"' "$TMP/out" >"$TMP/page1"
check "a next cursor after two jobs" test -n "$cursor" -a "$(wc -l <"$TMP/page1")" -eq 2
expect_rc "list --after the cursor" 0 "$SHOAL" list --state succeeded --limit 2 --after "$cursor" --json
grep -o '"id":"[0-9a-f]*"' "$TMP/out" >"$TMP/page2"
check "the next page holds other jobs" sh -c "test -s '$TMP/page2' && ! grep -qxF -f '$TMP/page1' '$TMP/page2'"
check "stats count of succeeded ($n) matches the list ($listed)" \
    test -n "$n" -a "$n" = "$listed" -a "$listed" -ge 4

# monitor sees the events of a job. The subscription takes effect a
# moment after the monitor starts (and the store only builds events once
# it knows someone listens): keep submitting until the monitor has had
# its count and exited; bounded either way.
"$SHOAL" monitor --topic job. --json --count 3 >"$TMP/mon" 2>/dev/null &
mon=$!
for i in $(seq 1 200); do
    "$SHOAL" submit --type noop >/dev/null
    kill -0 "$mon" 2>/dev/null || break
    sleep 0.02
done
kill "$mon" 2>/dev/null
wait "$mon" 2>/dev/null
check "monitor printed 3 json events" test "$(grep -c '"topic":"job\.' "$TMP/mon")" -eq 3
# job.dead carries the run's error
"$SHOAL" monitor --topic job.dead --json --count 1 >"$TMP/mon" 2>/dev/null &
mon=$!
for i in $(seq 1 200); do
    "$SHOAL" submit --type fail --payload '{"message":"kaput"}' >/dev/null
    kill -0 "$mon" 2>/dev/null || break
    sleep 0.02
done
kill "$mon" 2>/dev/null
wait "$mon" 2>/dev/null
check "job.dead event has the error" grep -q '"error":"kaput"' "$TMP/mon"

# placement: a job that requires labels runs only on an executor that has
# them all; until there is one it stays queued without holding up the
# jobs behind it. Bad labels and policies are usage errors.
expect_rc "--require with a bad label: 2" 2 "$SHOAL" submit --type noop --require 'g p u'
check "says what a label is" grep -q "a label is 1-32 characters" "$TMP/err"
expect_rc "--require nine labels: 2" 2 "$SHOAL" submit --type noop \
    --require a --require b --require c --require d --require e \
    --require f --require g --require h --require i
check "says at most 8" grep -q "at most 8 labels" "$TMP/err"
printf '[{"type":"noop","require":"gpu"}]' >"$TMP/badreq.json"
expect_rc "batch job with require not an array: 2" 2 "$SHOAL" batch submit "$TMP/badreq.json"
check "says what require is" grep -q '"require": an array of at most 8 labels' "$TMP/err"
expect_rc "queue set --policy nonsense: 2" 2 "$SHOAL" queue set placed --policy nonsense
check "names the policies" grep -q "least-loaded, round-robin, weighted or random" "$TMP/err"
expect_rc "queue set --policy round-robin" 0 "$SHOAL" queue set placed --policy round-robin
check "policy shown" grep -q '"policy":"round-robin"' "$TMP/out"
expect_rc "queue list" 0 "$SHOAL" queue list
check "queue list shows the policy" grep -q '"policy":"round-robin"' "$TMP/out"
check "and the default elsewhere" grep -q '"policy":"least-loaded"' "$TMP/out"
gpu=$("$SHOAL" submit --type noop --queue placed --require gpu --require fast | tail -n 1)
plain=$("$SHOAL" submit --type noop --queue placed | tail -n 1)
expect_rc "a plain job behind it runs" 0 "$SHOAL" wait --timeout 30 "$plain"
expect_rc "status --json of the gpu job" 0 "$SHOAL" status --json "$gpu"
check "require in --json" grep -q '"require":\["gpu","fast"\]' "$TMP/out"
check "still enqueued: no executor has gpu" test "$(json_field "$(cat "$TMP/out")" state)" = enqueued
expect_rc "status of the gpu job" 0 "$SHOAL" status "$gpu"
check "require in the text view" grep -q "^require *gpu,fast$" "$TMP/out"
expect_rc "stats --queues --json lists executors" 0 "$SHOAL" stats --queues --json
check "with weight and labels" grep -q '"name":"node.0","capacity":[0-9]*,"inflight":[0-9]*,"weight":1,"labels":\[\]' "$TMP/out"
expect_rc "shoald with a bad label: 2" 2 "$SHOALD" --data "$TMP/badlabels" \
    --control "ipc://$TMP/bl-c.sock" --monitor "ipc://$TMP/bl-m.sock" \
    --set executors/labels='gpu,a b'
check "says which label" grep -q "executors/labels.*label \"a b\"" "$TMP/err"
expect_rc "shoald with weight 0: 2" 2 "$SHOALD" --data "$TMP/badlabels" \
    --control "ipc://$TMP/bl-c.sock" --monitor "ipc://$TMP/bl-m.sock" \
    --set executors/weight=0
check "placement: shutdown" stop_shoald
start_shoald --set executors/labels=gpu,fast,ssd --set executors/weight=5 || exit 1
expect_rc "executors with gpu and fast: it runs" 0 "$SHOAL" wait --timeout 30 --json "$gpu"
check "on one of them" grep -q '"executor":"node\.[0-9]*"' "$TMP/out"
expect_rc "stats --queues" 0 "$SHOAL" stats --queues
check "executors table with labels" grep -q "^node.0 .* 5  gpu,fast,ssd$" "$TMP/out"

# retention by count: a queue keeps its newest N finished jobs, across
# restarts (the limit and the per-queue count are durable)
expect_rc "queue set --keep" 0 "$SHOAL" queue set kept --keep 2
check "keep shown" grep -q '"keep":2' "$TMP/out"
expect_rc "queue set --keep -1: usage" 2 "$SHOAL" queue set kept --keep -1
for i in 1 2 3; do "$SHOAL" wait "$("$SHOAL" submit --queue kept --type noop)" >/dev/null; done
expect_rc "list kept" 0 "$SHOAL" list --queue kept --json
check "two of three kept" test "$(grep -o '"id"' "$TMP/out" | wc -l)" -eq 2
check "shutdown exits 0" stop_shoald
start_shoald || exit 1
for i in 1 2; do "$SHOAL" wait "$("$SHOAL" submit --queue kept --type noop)" >/dev/null; done
expect_rc "list kept after a restart" 0 "$SHOAL" list --queue kept --json
check "still two kept" test "$(grep -o '"id"' "$TMP/out" | wc -l)" -eq 2
check "shutdown exits 0 again" stop_shoald

# SIGTERM is an orderly stop too, and the data survives it.
start_shoald || exit 1
kill -TERM "$SHOALD_PID"
wait "$SHOALD_PID"
rc=$?
SHOALD_PID=""
check "SIGTERM: exit 0 (got $rc)" test "$rc" -eq 0
check "SIGTERM: stop logged" grep -q "shoald: stopped" "$TMP/shoald.log"
start_shoald || exit 1
expect_rc "jobs kept across restarts" 0 "$SHOAL" status "$id"
check "shutdown after restart" stop_shoald
check "no lingering lock holder" "$SHOALD" --data "$DATA" --control "$SHOAL_ENDPOINT" --monitor "$MONITOR_EP" --version
finish
