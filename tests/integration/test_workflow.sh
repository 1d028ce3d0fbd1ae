#!/usr/bin/env bash
# shoal workflow validate: local, no daemon. The examples pass; broken
# files fail with exit 1 and a message naming the file, the node or edge
# and what is wrong; usage errors exit 2.
. "$(dirname "$0")/lib.sh"

EXAMPLES="$(cd "$(dirname "$0")/../../examples/workflows" && pwd)"

# expect_err NAME FILE TEXT: validate fails with exit 1 and says TEXT
expect_err () {
    local name=$1 file=$2 text=$3
    expect_rc "$name: exit 1" 1 "$SHOAL" workflow validate "$file"
    if grep -qF -- "$text" "$TMP/err"; then
        ok "$name: says why"
    else
        fail "$name: says why (want '$text', got '$(cat "$TMP/err")')"
    fi
}

# no daemon is needed: point the CLI at nothing
export SHOAL_ENDPOINT="ipc://$TMP/nobody.sock"

for f in etl payment_saga flaky_service shell_pipeline; do
    expect_rc "example $f.json is valid" 0 "$SHOAL" workflow validate "$EXAMPLES/$f.json"
done
expect_rc "etl again" 0 "$SHOAL" workflow validate "$EXAMPLES/etl.json"
check "ok line counts nodes and edges" \
    grep -qx "$EXAMPLES/etl.json: ok (7 nodes, 8 edges)" "$TMP/out"
expect_rc "from stdin" 0 sh -c "\"\$SHOAL\" workflow validate - < \"$EXAMPLES/payment_saga.json\""
check "stdin is named" grep -qx "stdin: ok (8 nodes, 4 edges)" "$TMP/out"

cat > "$TMP/fbwarn.json" <<'JSON'
{"name": "fbwarn", "nodes": [{"id": "a", "type": "echo", "fallback": "b"},
  {"id": "b", "type": "echo"}]}
JSON
expect_rc "a fallback without a breaker is valid" 0 "$SHOAL" workflow validate "$TMP/fbwarn.json"
check "but warned about" grep -q 'warning: node "a": fallback "b" never runs: the node has no breaker' "$TMP/err"

cat > "$TMP/cycle.json" <<'JSON'
{"name": "loop", "nodes": [{"id": "a", "type": "noop"}, {"id": "b", "type": "echo"},
  {"id": "c", "type": "noop"}],
 "edges": [{"from": "a", "to": "b"}, {"from": "b", "to": "c"}, {"from": "c", "to": "b"}]}
JSON
expect_err "cycle" "$TMP/cycle.json" "$TMP/cycle.json: cycle: b -> c -> b"

cat > "$TMP/dangling.json" <<'JSON'
{"name": "dangling", "nodes": [{"id": "a", "type": "noop"}],
 "edges": [{"from": "a", "to": "nowhere"}]}
JSON
expect_err "dangling edge" "$TMP/dangling.json" \
    "$TMP/dangling.json: edge 0 (a -> nowhere): to: no node \"nowhere\""

cat > "$TMP/expr.json" <<'JSON'
{"name": "expr", "nodes": [{"id": "a", "type": "noop"}, {"id": "b", "type": "noop"}],
 "edges": [{"from": "a", "to": "b", "if": "output.ok == && true"}]}
JSON
expect_err "bad expression" "$TMP/expr.json" \
    "$TMP/expr.json: edge 0 (a -> b): if: column 14: expected a value after '=='"

cat > "$TMP/type.json" <<'JSON'
{"name": "types", "nodes": [{"id": "a", "type": "resize"}, {"id": "b", "type": "thumb"}],
 "edges": [{"from": "a", "to": "b"}]}
JSON
expect_err "unknown type" "$TMP/type.json" \
    "$TMP/type.json: node \"a\": unknown type \"resize\""
expect_rc "--types allows plugin types" 0 \
    "$SHOAL" workflow validate --types resize,thumb "$TMP/type.json"
expect_rc "--types twice" 0 \
    "$SHOAL" workflow validate --types resize --types thumb "$TMP/type.json"
expect_rc "--types missing one" 1 \
    "$SHOAL" workflow validate --types resize "$TMP/type.json"
check "names the missing one" grep -qF 'node "b": unknown type "thumb"' "$TMP/err"
expect_rc "--types bad name: usage" 2 \
    "$SHOAL" workflow validate --types "re size" "$TMP/type.json"

cat > "$TMP/policy.json" <<'JSON'
{"name": "policy", "nodes": [{"id": "a", "type": "noop", "retry": "exponential:max=0"}]}
JSON
expect_err "bad retry policy" "$TMP/policy.json" "$TMP/policy.json: node \"a\": retry: "

cat > "$TMP/breaker.json" <<'JSON'
{"name": "breaker", "nodes": [{"id": "a", "type": "noop", "breaker": {"failure_rate": 7}}]}
JSON
expect_err "bad breaker" "$TMP/breaker.json" \
    "node \"a\": breaker: failure_rate: must be a number over 0 and at most 1"

printf '{"name": "x", "nodes": [' > "$TMP/truncated.json"
expect_err "not JSON" "$TMP/truncated.json" "$TMP/truncated.json: line 1, column "

expect_err "unreadable file" "$TMP/missing.json" \
    "cannot read $TMP/missing.json: No such file or directory"

expect_rc "no file: usage" 2 "$SHOAL" workflow validate
expect_rc "two files: usage" 2 "$SHOAL" workflow validate a.json b.json
expect_rc "no subcommand: usage" 2 "$SHOAL" workflow
expect_rc "unknown subcommand: usage" 2 "$SHOAL" workflow frobnicate x.json
check "says which" grep -q "unknown workflow command 'frobnicate'" "$TMP/err"
expect_rc "bad option: usage" 2 "$SHOAL" workflow validate --bogus x.json
"$SHOAL" --help >"$TMP/out" 2>&1
check "help lists workflow validate" grep -q "workflow validate" "$TMP/out"

# Definitions stored in a real shoald: revisions, unchanged re-defines,
# the list, refusals, and they survive a restart.
start_shoald || exit 1
expect_rc "define etl" 0 "$SHOAL" workflow define "$EXAMPLES/etl.json"
check "revision 1" grep -q "etl revision 1$" "$TMP/out"
expect_rc "define etl again" 0 "$SHOAL" workflow define "$EXAMPLES/etl.json"
check "same revision, unchanged" grep -q "etl revision 1 (unchanged)" "$TMP/out"
sed 's/"max_concurrency": 8/"max_concurrency": 9/' "$EXAMPLES/etl.json" >"$TMP/etl2.json"
check "the edited copy differs" sh -c "! cmp -s '$EXAMPLES/etl.json' '$TMP/etl2.json'"
expect_rc "define a changed etl" 0 "$SHOAL" workflow define "$TMP/etl2.json"
check "revision 2" grep -q "etl revision 2$" "$TMP/out"
expect_rc "define the saga" 0 "$SHOAL" workflow define "$EXAMPLES/payment_saga.json"
expect_rc "define an invalid file: refused locally" 1 \
    "$SHOAL" workflow define "$TMP/policy.json"
expect_rc "defs" 0 "$SHOAL" workflow defs
check "lists etl at revision 2" grep -q "^etl  *rev 2 " "$TMP/out"
expect_rc "defs --json" 0 "$SHOAL" workflow defs --json
check "json lists both" test "$(grep -c '"revision"' "$TMP/out")" -eq 2
check "shutdown" stop_shoald
start_shoald || exit 1
expect_rc "defs after a restart" 0 "$SHOAL" workflow defs --json
check "still etl revision 2" grep -q '"name":"etl","revision":2' "$TMP/out"

# Runs: conditions pick a branch, the other is skipped, a join-all node
# starts once its inputs are decided, a failure taken by an on-fail edge
# does not fail the run; an unhandled one does.
cat > "$TMP/route.json" <<'JSON'
{"name": "route", "nodes": [
  {"id": "a", "type": "echo"},
  {"id": "big", "type": "echo"},
  {"id": "small", "type": "echo"},
  {"id": "join", "type": "echo", "join": "all"},
  {"id": "check", "type": "fail", "config": {"message": "nope"}},
  {"id": "handler", "type": "echo"}],
 "edges": [
  {"from": "a", "to": "big", "if": "output.n > 10"},
  {"from": "a", "to": "small", "if": "output.n <= 10"},
  {"from": "big", "to": "join"},
  {"from": "small", "to": "join"},
  {"from": "join", "to": "check", "if": "input.check == true"},
  {"from": "check", "to": "handler", "on": "fail"}]}
JSON
"$SHOAL" workflow run "$TMP/route.json" --input '{"n": 42, "check": true}' >"$TMP/run" 2>"$TMP/err"
run=$(tail -n 1 "$TMP/run")
check "run prints its id last" sh -c "echo '$run' | grep -qE '^[0-9a-f]{32}$'"
expect_rc "wait for the run" 0 "$SHOAL" wait --timeout 30 --json "$run"
check "run succeeded" grep -q '"state":"succeeded"' "$TMP/out"
check "big ran" grep -q '"id":"big","type":"echo","state":"succeeded"' "$TMP/out"
check "small was not reached" grep -q '"id":"small","type":"echo","state":"cancelled"' "$TMP/out"
check "join got big's output" grep -q '"id":"join".*"output":{"n":42' "$TMP/out"
check "check failed" grep -q '"id":"check","type":"fail","state":"dead"' "$TMP/out"
check "its handler ran" grep -q '"id":"handler","type":"echo","state":"succeeded"' "$TMP/out"
# The view carries the definition's edges and whether each fired.
check "edge a -> big fired" grep -q '"from":"a","to":"big","if":"output.n > 10","fired":true' "$TMP/out"
check "edge a -> small did not" grep -q '"from":"a","to":"small","if":"output.n <= 10","fired":false' "$TMP/out"
check "the on-fail edge fired" grep -q '"from":"check","to":"handler","on":"fail","fired":true' "$TMP/out"
# The text graph: each node with its state, the path taken (==> fired,
# ..> did not fire), conditions and triggers on the edges.
expect_rc "workflow show: the graph" 0 "$SHOAL" workflow show "$run" --ascii
check "graph: entry node and its state" grep -q '^a \[succeeded' "$TMP/out"
check "graph: the branch taken, with its condition" \
    grep -qF '=[if output.n > 10]=> big [succeeded' "$TMP/out"
check "graph: the branch not taken" \
    grep -qF '.[if output.n <= 10].> small [cancelled: not reached]' "$TMP/out"
check "graph: the join reached from big" grep -qF '==> join [succeeded' "$TMP/out"
check "graph: not from small (drawn once)" grep -qF '..> join (see above)' "$TMP/out"
check "graph: the failure and its handler" \
    grep -qF '=[on fail]=> handler [succeeded' "$TMP/out"
check "graph: the dead node with its error" grep -qF 'check [dead' "$TMP/out"
check "graph: plain ASCII" sh -c "! LC_ALL=C grep -q '[^ -~]' '$TMP/out'"
check "table: each node's type, state and output" \
    grep -q '^  big  *echo  *succeeded  *1 .*{"n":42' "$TMP/out"
expect_rc "workflow show --utf8" 0 "$SHOAL" workflow show "$run" --utf8
check "utf8: arrows" grep -qF '─[if output.n > 10]─▶ big [succeeded' "$TMP/out"
expect_rc "show: bad option" 2 "$SHOAL" workflow show "$run" --bogus
run=$(/bin/sh -c "'$SHOAL' workflow run route --input '{\"n\": 3}'" | tail -n 1)
expect_rc "the other branch" 0 "$SHOAL" wait --timeout 30 --json "$run"
check "small ran" grep -q '"id":"small","type":"echo","state":"succeeded"' "$TMP/out"
check "check skipped by its condition" grep -q '"id":"check","type":"fail","state":"cancelled"' "$TMP/out"
cat > "$TMP/bad.json" <<'JSON'
{"name": "bad", "nodes": [{"id": "a", "type": "fail", "config": {"message": "boom"}},
  {"id": "b", "type": "echo"}], "edges": [{"from": "a", "to": "b"}]}
JSON
run=$("$SHOAL" workflow run "$TMP/bad.json" | tail -n 1)
expect_rc "an unhandled failure fails the run (exit 4)" 4 "$SHOAL" wait --timeout 30 --json "$run"
check "run failed, naming the node" grep -q '"state":"failed".*"error":"node a: boom"' "$TMP/out"
expect_rc "workflow show" 0 "$SHOAL" workflow show "$run"
check "text view lists nodes" grep -q "^  a  *fail  *dead" "$TMP/out"
check "and the edge not taken" grep -qF '`..> b [cancelled: not reached]' "$TMP/out"
expect_rc "watch a failed run: exit 4" 4 "$SHOAL" workflow show "$run" --watch
expect_rc "workflow list" 0 "$SHOAL" workflow list --json
check "lists three runs" test "$(grep -c '"workflow":' "$TMP/out")" -eq 3
expect_rc "run of an unknown workflow: refused" 1 "$SHOAL" workflow run nosuch
check "says so" grep -q "no workflow named nosuch" "$TMP/err"
expect_rc "show a bad id: usage" 2 "$SHOAL" workflow show zz
cat > "$TMP/esc.json" <<'JSON'
{"name": "esc", "nodes": [{"id": "a", "type": "fail", "config": {"message": "\u001b[2Jgone"}}]}
JSON
run=$("$SHOAL" workflow run "$TMP/esc.json" | tail -n 1)
"$SHOAL" wait --timeout 30 "$run" >/dev/null 2>&1
expect_rc "show a run whose error holds an escape" 0 "$SHOAL" workflow show "$run" --utf8
check "the escape prints as ?" sh -c "grep -qF 'a [dead' '$TMP/out' && grep -qF '?[2Jgone' '$TMP/out' && ! grep -q \"$(printf '\033')\" '$TMP/out'"

# A run survives kill -9: it continues from its last committed step.
cat > "$TMP/slow.json" <<'JSON'
{"name": "slow", "nodes": [{"id": "first", "type": "echo"},
  {"id": "nap", "type": "sleep", "config": {"ms": 1500}},
  {"id": "last", "type": "echo"}],
 "edges": [{"from": "first", "to": "nap"}, {"from": "nap", "to": "last"}]}
JSON
run=$("$SHOAL" workflow run "$TMP/slow.json" --input '{"x": 1}' | tail -n 1)
for i in $(seq 1 500); do
    "$SHOAL" workflow show "$run" --json >"$TMP/show" 2>/dev/null
    grep -q '"id":"nap","type":"sleep","state":"leased"' "$TMP/show" && break
    sleep 0.01
done
check "nap is running at the crash" grep -q '"id":"nap","type":"sleep","state":"leased"' "$TMP/show"
kill9_shoald
start_shoald || exit 1
expect_rc "the run finishes after the restart" 0 "$SHOAL" wait --timeout 60 --json "$run"
check "succeeded" grep -q '"state":"succeeded"' "$TMP/out"
check "first ran once" grep -q '"id":"first","type":"echo","state":"succeeded","attempt":1' "$TMP/out"
check "nap ran again (attempt 2)" grep -q '"id":"nap","type":"sleep","state":"succeeded","attempt":2' "$TMP/out"
check "last got the message" grep -q '"id":"last","type":"echo","state":"succeeded"' "$TMP/out"

# workflow show --watch: renders again as the run moves, until it ends
# (exit as wait) or --timeout (exit 5).
run=$("$SHOAL" workflow run slow --input '{"x": 5}' | tail -n 1)
expect_rc "watch until the run ends" 0 \
    "$SHOAL" workflow show "$run" --watch --ascii --timeout 30
check "watch: several renderings" test "$(grep -c "^run $run " "$TMP/out")" -ge 2
check "watch: an early one with nap under way, last not decided" \
    grep -qF '`--> last [waiting]' "$TMP/out"
check "watch: the last one with the whole path" \
    sh -c "tail -n 12 '$TMP/out' | grep -qF '==> last [succeeded'"
run=$("$SHOAL" workflow run slow --input '{"x": 6}' | tail -n 1)
expect_rc "watch: --timeout before the end exits 5" 5 \
    "$SHOAL" workflow show "$run" --watch --timeout 0.2
expect_rc "watch --json: a view per change" 0 \
    "$SHOAL" workflow show "$run" --watch --json --timeout 30
check "watch --json: the final view last" \
    sh -c "tail -n 1 '$TMP/out' | grep -q '\"state\":\"succeeded\"'"

# Big inputs and outputs show as their size: a view fits a client frame.
big=$(head -c 20000 /dev/zero | tr '\0' 'x')
run=$("$SHOAL" workflow run route --input "{\"n\": 1, \"pad\": \"$big\"}" | tail -n 1)
expect_rc "a run with a 20 KB input" 0 "$SHOAL" wait --timeout 30 --json "$run"
check "its input shows as a size" grep -q '"input_bytes":200[0-9][0-9]' "$TMP/out"
check "so do the outputs carrying it" grep -q '"id":"a".*"output_bytes":200[0-9][0-9]' "$TMP/out"

# Progress events on the monitor: at most one per 100 ms per run, and
# its end (a's 300 ms make the first).
cat > "$TMP/two.json" <<'JSON'
{"name": "two", "nodes": [{"id": "a", "type": "sleep", "config": {"ms": 300}}, {"id": "b", "type": "echo"}],
 "edges": [{"from": "a", "to": "b"}]}
JSON
"$SHOAL" workflow define "$TMP/two.json" >/dev/null
"$SHOAL" monitor --topic run.progress --json --count 2 >"$TMP/mon" 2>/dev/null &
mon=$!
for i in $(seq 1 100); do
    run=$("$SHOAL" workflow run two | tail -n 1)
    "$SHOAL" wait --timeout 10 "$run" >/dev/null
    [ "$(wc -l <"$TMP/mon")" -ge 2 ] && break
done
kill "$mon" 2>/dev/null # bounded: gone already when it saw its two
wait $mon 2>/dev/null
check "progress: half way, with counts and an estimate" \
    grep -q '"topic":"run.progress".*"done":1,"total":2,"percent":50,"counts":{.*"succeeded":1.*"eta_ms":' "$TMP/mon"
check "progress: done" grep -q '"done":2,"total":2,"percent":100' "$TMP/mon"

# An exec node reads the message that reached it as JSON on stdin, and
# finishes on the port its program prints (output.json.port).
cat > "$TMP/execmsg.json" <<'JSON'
{"name": "execmsg", "nodes": [
  {"id": "a", "type": "echo", "config": {"rows": 42}},
  {"id": "b", "type": "exec",
   "config": {"argv": ["sh", "-c", "read m; echo \"{\\\"port\\\": \\\"big\\\", \\\"got\\\": $m, \\\"key\\\": \\\"$SHOAL_IDEMPOTENCY_KEY\\\"}\""]}},
  {"id": "c", "type": "echo"}, {"id": "d", "type": "echo"}],
 "edges": [{"from": "a", "to": "b"}, {"from": "b", "to": "c", "port": "big"},
           {"from": "b", "to": "d"}]}
JSON
run=$("$SHOAL" workflow run "$TMP/execmsg.json" | tail -n 1)
expect_rc "exec node run" 0 "$SHOAL" wait --timeout 30 --json "$run"
check "the exec program read its message on stdin" \
    grep -q '"id":"b","type":"exec","state":"succeeded".*"json":{"port":"big","got":{"rows":42},"key":"[0-9a-f]\{32\}"}' "$TMP/out"
check "it finished on the port it printed" grep -q '"id":"b","type":"exec","state":"succeeded"[^}]*"port":"big"' "$TMP/out"
check "the port's edge fired" grep -q '"id":"c","type":"echo","state":"succeeded"' "$TMP/out"
check "the default edge did not" grep -q '"id":"d","type":"echo","state":"cancelled"' "$TMP/out"

# The shell pipeline example: two runs at once, each in its own folder
# (every program reads its message on stdin and names the folder).
r1=$("$SHOAL" workflow run "$EXAMPLES/shell_pipeline.json" | tail -n 1)
r2=$("$SHOAL" workflow run "$EXAMPLES/shell_pipeline.json" | tail -n 1)
expect_rc "shell pipeline run 1" 0 "$SHOAL" wait --timeout 60 --json "$r1"
d1=$(sed -n 's/.*"id":"archive".*"json":{"dir":"\([^"]*\)".*/\1/p' "$TMP/out")
expect_rc "shell pipeline run 2" 0 "$SHOAL" wait --timeout 60 --json "$r2"
d2=$(sed -n 's/.*"id":"archive".*"json":{"dir":"\([^"]*\)".*/\1/p' "$TMP/out")
check "each run had its own folder ($d1, $d2)" test -n "$d1" -a -n "$d2" -a "$d1" != "$d2"
check "archived and cleaned up" sh -c "test -s '$d1.tgz' && test -s '$d2.tgz' && ! test -e '$d1' && ! test -e '$d2'"
rm -f "$d1.tgz" "$d2.tgz"

# workflow list pages: a listing stops at 512 KiB (or 1000 runs) and
# says how to get the next page; the pages together hold every run.
pad=$(head -c 15000 /dev/zero | tr '\0' 'p')
for i in $(seq 1 40); do
    "$SHOAL" workflow run two --input "{\"pad\": \"$pad\"}" >/dev/null
done
last=$("$SHOAL" workflow run two | tail -n 1)
"$SHOAL" wait --timeout 30 "$last" >/dev/null
total=0; after=""; pages=0
for i in $(seq 1 20); do
    if [ -n "$after" ]; then
        "$SHOAL" workflow list --after "$after" >"$TMP/page" 2>"$TMP/pageerr"
    else
        "$SHOAL" workflow list >"$TMP/page" 2>"$TMP/pageerr"
    fi
    total=$((total + $(grep -c '^run ' "$TMP/page")))
    pages=$((pages + 1))
    grep -q "$last" "$TMP/page" && seen_last=1
    after=$(sed -n 's/^more: shoal workflow list --after \([0-9a-f]*\)$/\1/p' "$TMP/pageerr")
    [ -z "$after" ] && break
done
expect_rc "list --json ends a page with next" 0 "$SHOAL" workflow list --json
check "a page's JSON ends with its next" sh -c "tail -n 1 '$TMP/out' | grep -q '^{\"next\":\"[0-9a-f]*\"}$'"
check "listing pages ($pages) reach the newest run" test "${seen_last:-0}" = 1 -a "$pages" -gt 1
expect_rc "list --after a bad id: refused" 1 "$SHOAL" workflow list --after zz
expect_rc "list --after an id too long: refused, not ignored" 1 \
    "$SHOAL" workflow list --after "$(printf '%064d' 0)"

# Node events on the monitor: started, ended (with the edges that
# fired), skipped.
cat > "$TMP/ev.json" <<'JSON'
{"name": "ev", "nodes": [{"id": "a", "type": "echo"}, {"id": "b", "type": "echo"},
  {"id": "c", "type": "echo"}],
 "edges": [{"from": "a", "to": "b", "if": "input.go == true"},
           {"from": "a", "to": "c", "if": "input.go == false"}]}
JSON
"$SHOAL" workflow define "$TMP/ev.json" >/dev/null
# (runs of earlier tests may still be going: look at ev's events only,
# and run ev until a whole run of it was seen)
"$SHOAL" monitor --topic run.node. --json --count 100000 >"$TMP/nmon" 2>/dev/null &
nmon=$!
for i in $(seq 1 100); do
    run=$("$SHOAL" workflow run ev --input '{"go": true}' | tail -n 1)
    "$SHOAL" wait --timeout 10 "$run" >/dev/null
    [ "$(grep -c "\"workflow\":\"ev\"" "$TMP/nmon")" -ge 10 ] && break
done
kill "$nmon" 2>/dev/null # bounded: the loop above ends by itself
wait $nmon 2>/dev/null
check "run.node.started names the node and its job" \
    grep -q '"topic":"run.node.started".*"node":"a","state":"enqueued","job":' "$TMP/nmon"
check "run.node.succeeded says how many edges fired" \
    grep -q '"topic":"run.node.succeeded".*"node":"a","state":"succeeded".*"port":"default","fired":1' "$TMP/nmon"
check "run.node.skipped for the branch not taken" \
    grep -q '"topic":"run.node.skipped".*"node":"c","state":"cancelled"' "$TMP/nmon"

# Saga: when the run fails, the compensation nodes of the completed
# nodes run, the last completed first; then the run fails.
cat > "$TMP/saga.json" <<'JSON'
{"name": "saga", "nodes": [
  {"id": "reserve", "type": "echo", "config": {"sku": "A"}, "compensate": "release"},
  {"id": "charge", "type": "echo", "config": {"eur": 5}, "compensate": "refund"},
  {"id": "ship", "type": "fail", "config": {"message": "no courier"}},
  {"id": "release", "type": "echo"},
  {"id": "refund", "type": "echo"}],
 "edges": [{"from": "reserve", "to": "charge"}, {"from": "charge", "to": "ship"}]}
JSON
run=$("$SHOAL" workflow run "$TMP/saga.json" | tail -n 1)
expect_rc "a failed saga" 4 "$SHOAL" wait --timeout 30 --json "$run"
check "failed, naming ship" grep -q '"state":"failed".*"error":"node ship: no courier"' "$TMP/out"
check "refund ran with charge's output" grep -q '"id":"refund","type":"echo","state":"succeeded".*"output":{"eur":5}' "$TMP/out"
check "release ran with reserve's output" grep -q '"id":"release","type":"echo","state":"succeeded".*"output":{"sku":"A"}' "$TMP/out"
refund_at=$(sed -n 's/.*"id":"refund","type":"echo","state":"succeeded","attempt":1,"started_us":\([0-9]*\).*/\1/p' "$TMP/out")
release_at=$(sed -n 's/.*"id":"release","type":"echo","state":"succeeded","attempt":1,"started_us":\([0-9]*\).*/\1/p' "$TMP/out")
check "refund before release (reverse completion order: $refund_at < $release_at)" \
    test -n "$refund_at" -a -n "$release_at" -a "$refund_at" -lt "$release_at"
run=$("$SHOAL" workflow run "$EXAMPLES/payment_saga.json" --input '{"amount": 4990}' | tail -n 1)
expect_rc "the example saga succeeds, nothing to undo" 0 "$SHOAL" wait --timeout 30 --json "$run"
check "no compensation ran" grep -q '"id":"refund_card","type":"echo","state":"cancelled".*"error":"not needed"' "$TMP/out"
run=$("$SHOAL" workflow run "$EXAMPLES/payment_saga.json" --input '{"amount": 0}' | tail -n 1)
expect_rc "the example saga declined" 4 "$SHOAL" wait --timeout 30 --json "$run"
check "its error names the decline" grep -q '"state":"failed".*"error":"node decline: card declined' "$TMP/out"
check "the reservation was released" grep -q '"id":"release_stock","type":"echo","state":"succeeded"' "$TMP/out"
check "nothing was charged to refund" grep -q '"id":"refund_card","type":"echo","state":"cancelled".*"error":"not needed"' "$TMP/out"
run=$("$SHOAL" workflow run "$EXAMPLES/etl.json" --input '{"rows": 0}' | tail -n 1)
expect_rc "etl with no rows" 0 "$SHOAL" wait --timeout 30 --json "$run"
check "skips its transforms" grep -q '"id":"clean","type":"echo","state":"cancelled".*"error":"not reached"' "$TMP/out"

# Pause: the running node finishes, the next one waits, across a
# restart, until resume.
run=$("$SHOAL" workflow run slow --input '{"x": 4}' | tail -n 1)
for i in $(seq 1 500); do
    "$SHOAL" workflow show "$run" --json >"$TMP/show" 2>/dev/null
    grep -q '"id":"nap","type":"sleep","state":"leased"' "$TMP/show" && break
    sleep 0.01
done
expect_rc "workflow pause" 0 "$SHOAL" workflow pause "$run" --json
check "paused" grep -q '"paused":true' "$TMP/out"
for i in $(seq 1 500); do
    "$SHOAL" workflow show "$run" --json >"$TMP/show" 2>/dev/null
    grep -q '"id":"nap","type":"sleep","state":"succeeded"' "$TMP/show" && break
    sleep 0.01
done
check "the running node finished" grep -q '"id":"nap","type":"sleep","state":"succeeded"' "$TMP/show"
check "the next one waits" grep -q '"id":"last","type":"echo","state":"waiting"' "$TMP/show"
check "restart while paused" stop_shoald
start_shoald || exit 1
expect_rc "still paused after the restart" 0 "$SHOAL" workflow show "$run" --json
check "paused, last waiting" sh -c "grep -q '\"paused\":true' '$TMP/out' && grep -q '\"id\":\"last\",\"type\":\"echo\",\"state\":\"waiting\"' '$TMP/out'"
expect_rc "workflow resume" 0 "$SHOAL" workflow resume "$run"
expect_rc "the run completes" 0 "$SHOAL" wait --timeout 30 --json "$run"
check "last ran after resume" grep -q '"id":"last","type":"echo","state":"succeeded"' "$TMP/out"

# Cancel: a whole run (its running node is stopped), or one node's job
# (the run fails, naming it).
run=$("$SHOAL" workflow run slow --input '{"x": 2}' | tail -n 1)
for i in $(seq 1 500); do
    "$SHOAL" workflow show "$run" --json >"$TMP/show" 2>/dev/null
    grep -q '"id":"nap","type":"sleep","state":"leased"' "$TMP/show" && break
    sleep 0.01
done
expect_rc "workflow cancel" 0 "$SHOAL" workflow cancel "$run" --json
check "run cancelled" grep -q '"state":"cancelled"' "$TMP/out"
check "nap cancelled" grep -q '"id":"nap","type":"sleep","state":"cancelled"' "$TMP/out"
check "last never runs" grep -q '"id":"last","type":"echo","state":"cancelled".*"error":"run cancelled"' "$TMP/out"
expect_rc "wait on a cancelled run: 4" 4 "$SHOAL" wait --timeout 10 "$run"
expect_rc "cancel it again: refused" 1 "$SHOAL" workflow cancel "$run"
run=$("$SHOAL" workflow run slow --input '{"x": 3}' | tail -n 1)
for i in $(seq 1 500); do
    "$SHOAL" workflow show "$run" --json >"$TMP/show" 2>/dev/null
    grep -q '"id":"nap","type":"sleep","state":"leased"' "$TMP/show" && break
    sleep 0.01
done
job=$(sed -n 's/.*"id":"nap","type":"sleep","state":"leased"[^}]*"job":"\([0-9a-f]*\)".*/\1/p' "$TMP/show")
expect_rc "cancel the node's job" 0 "$SHOAL" cancel "$job"
expect_rc "the run fails" 4 "$SHOAL" wait --timeout 30 --json "$run"
check "naming the node" grep -q '"error":"node nap: cancelled"' "$TMP/out"
# Circuit breakers: one per node type, in the router. Two failed runs
# of the `fail` type open it (min 2 calls, rate 0.5); then the node's
# fallback runs in its place and its edges route the fallback's result.
cat > "$TMP/brk.json" <<'JSON'
{"name": "brk", "nodes": [
  {"id": "call", "type": "fail", "retry": "none",
   "breaker": {"failure_rate": 0.5, "min_calls": 2, "window": "60s", "open_for": "1h"},
   "fallback": "cached"},
  {"id": "cached", "type": "echo", "config": {"cached": true}},
  {"id": "after", "type": "echo", "join": "any"},
  {"id": "failed", "type": "echo", "config": {"failed": true}}],
 "edges": [{"from": "call", "to": "after"}, {"from": "call", "to": "failed", "on": "fail"}]}
JSON
"$SHOAL" workflow define "$TMP/brk.json" >/dev/null
# The monitor subscribes to "b" (batch. and breaker.): a batch event
# proves the subscription is live before the one-shot breaker event.
"$SHOAL" monitor --topic b --json --count 1000 >"$TMP/bmon" 2>/dev/null &
bmon=$!
echo '[{"type":"noop"}]' >"$TMP/warm.json"
for i in $(seq 1 100); do
    "$SHOAL" batch submit "$TMP/warm.json" >/dev/null
    grep -q '"topic":"batch\.' "$TMP/bmon" && break
done
for i in 1 2; do
    run=$("$SHOAL" workflow run brk | tail -n 1)
    expect_rc "breaker run $i: the failure is handled" 0 "$SHOAL" wait --timeout 30 --json "$run"
    check "breaker run $i: call ran and died" grep -q '"id":"call","type":"fail","state":"dead"' "$TMP/out"
    check "breaker run $i: its fail edge fired" grep -q '"id":"failed","type":"echo","state":"succeeded"' "$TMP/out"
done
run=$("$SHOAL" workflow run brk | tail -n 1)
expect_rc "breaker open: the run succeeds" 0 "$SHOAL" wait --timeout 30 --json "$run"
check "call ran its fallback" grep -q '"id":"call","type":"fail","state":"succeeded".*"error":"breaker open: ran fallback cached"' "$TMP/out"
check "the fallback shows its run" grep -q '"id":"cached","type":"echo","state":"succeeded"' "$TMP/out"
check "the complete edge routed the fallback's output" \
    grep -q '"id":"after","type":"echo","state":"succeeded".*"output":{"cached":true}' "$TMP/out"
for i in $(seq 1 100); do
    grep -q '"topic":"breaker\.opened"' "$TMP/bmon" && break
    "$SHOAL" ping >/dev/null
done
kill "$bmon" 2>/dev/null
wait "$bmon" 2>/dev/null
check "breaker.opened event names the type" \
    grep -q '"topic":"breaker.opened".*"type":"fail".*"from":"closed","to":"open","calls":2,"failures":2' "$TMP/bmon"
# Without a fallback an open breaker fails the node at once, with why.
cat > "$TMP/brk2.json" <<'JSON'
{"name": "brk2", "nodes": [
  {"id": "call", "type": "fail", "retry": "none",
   "breaker": {"failure_rate": 0.5, "min_calls": 2, "window": "60s", "open_for": "1h"}}],
 "edges": []}
JSON
run=$("$SHOAL" workflow run "$TMP/brk2.json" | tail -n 1)
expect_rc "no fallback: the run fails" 4 "$SHOAL" wait --timeout 30 --json "$run"
check "failed fast with the breaker's reason" \
    grep -q '"id":"call","type":"fail","state":"dead","attempt":0.*"error":"breaker fail: circuit open' "$TMP/out"

# Compensation "branch": only the failed branch is undone.
cat > "$TMP/branch.json" <<'JSON'
{"name": "branch", "compensation": "branch", "nodes": [
  {"id": "start", "type": "echo", "compensate": "undo_start"},
  {"id": "left", "type": "echo", "config": {"side": "L"}, "compensate": "undo_left"},
  {"id": "left2", "type": "fail", "retry": "none"},
  {"id": "right", "type": "echo", "config": {"side": "R"}, "compensate": "undo_right"},
  {"id": "undo_start", "type": "echo"},
  {"id": "undo_left", "type": "echo"},
  {"id": "undo_right", "type": "echo"}],
 "edges": [{"from": "start", "to": "left"}, {"from": "left", "to": "left2"},
           {"from": "start", "to": "right"}]}
JSON
run=$("$SHOAL" workflow run "$TMP/branch.json" | tail -n 1)
expect_rc "branch saga fails" 4 "$SHOAL" wait --timeout 30 --json "$run"
check "the failed branch is undone" grep -q '"id":"undo_left","type":"echo","state":"succeeded"' "$TMP/out"
check "so is the node it came from" grep -q '"id":"undo_start","type":"echo","state":"succeeded"' "$TMP/out"
check "the other branch stays" grep -q '"id":"undo_right","type":"echo","state":"cancelled".*"error":"not needed"' "$TMP/out"
check "right itself succeeded" grep -q '"id":"right","type":"echo","state":"succeeded"' "$TMP/out"

# Limits. A node with max_concurrent or rate runs in a queue of its own
# whose settings carry them, following the latest revision.
cat > "$TMP/lims.json" <<'JSON'
{"name": "lims", "nodes": [{"id": "slow", "type": "echo", "max_concurrent": 2,
  "rate": "10/s", "burst": 3}, {"id": "free", "type": "echo"}],
 "edges": [{"from": "slow", "to": "free"}]}
JSON
expect_rc "define a limited node" 0 "$SHOAL" workflow define "$TMP/lims.json"
expect_rc "queue list" 0 "$SHOAL" queue list
check "its queue carries the limits" grep -q '"name":"wf:lims:slow","paused":false,"concurrency":2,"rate_interval_us":100000,"burst":3' "$TMP/out"
check "an unlimited node has no queue of its own" sh -c "! grep -q 'wf:lims:free' '$TMP/out'"
run=$("$SHOAL" workflow run lims --input '{"x": 1}' | tail -n 1)
expect_rc "a limited run completes" 0 "$SHOAL" wait --timeout 30 --json "$run"
cat > "$TMP/lims2.json" <<'JSON'
{"name": "lims", "nodes": [{"id": "slow", "type": "echo"}, {"id": "free", "type": "echo"}],
 "edges": [{"from": "slow", "to": "free"}]}
JSON
expect_rc "define it without limits" 0 "$SHOAL" workflow define "$TMP/lims2.json"
expect_rc "queue list again" 0 "$SHOAL" queue list
check "the limits are gone" grep -q '"name":"wf:lims:slow","paused":false,"concurrency":0,"rate_interval_us":0' "$TMP/out"
# max_concurrency 1: the second entry node waits for the first.
cat > "$TMP/one.json" <<'JSON'
{"name": "one", "max_concurrency": 1, "nodes": [
  {"id": "a", "type": "sleep", "config": {"ms": 2000}},
  {"id": "b", "type": "echo"}]}
JSON
run=$("$SHOAL" workflow run "$TMP/one.json" | tail -n 1)
expect_rc "show a gated run" 0 "$SHOAL" workflow show "$run" --json
check "b waits while a runs" grep -q '"id":"b","type":"echo","state":"waiting"' "$TMP/out"
expect_rc "the gated run completes" 0 "$SHOAL" wait --timeout 30 --json "$run"
check "b ran after a" grep -q '"id":"b","type":"echo","state":"succeeded"' "$TMP/out"
# A run past its timeout fails with "timeout"; its running node stops.
cat > "$TMP/late.json" <<'JSON'
{"name": "late", "timeout": "300ms", "nodes": [
  {"id": "nap", "type": "sleep", "config": {"ms": 20000}}]}
JSON
run=$("$SHOAL" workflow run "$TMP/late.json" | tail -n 1)
expect_rc "a run past its timeout fails (exit 4)" 4 "$SHOAL" wait --timeout 15 --json "$run"
check "with error timeout" grep -q '"state":"failed".*"error":"timeout"' "$TMP/out"
check "its node was cancelled" grep -q '"id":"nap","type":"sleep","state":"cancelled".*"error":"run timed out"' "$TMP/out"
check "final shutdown" stop_shoald

# Retention: a run that ended store/retention ago is deleted with its
# node records (a fresh folder, retention 300 ms); one still running
# stays.
DATA="$TMP/data-retention"
start_shoald --set store/retention=300 || exit 1
"$SHOAL" workflow define "$TMP/two.json" >/dev/null
old=$("$SHOAL" workflow run two | tail -n 1)
expect_rc "a run to forget" 0 "$SHOAL" wait --timeout 30 "$old"
held=$("$SHOAL" workflow run "$TMP/slow.json" --input '{"x": 9}' | tail -n 1)
"$SHOAL" workflow pause "$held" >/dev/null
for i in $(seq 1 300); do
    "$SHOAL" workflow show "$old" >/dev/null 2>&1 || break
    sleep 0.02
done
expect_rc "an ended run is gone after retention" 1 "$SHOAL" workflow show "$old"
check "not found" grep -q "NOT_FOUND" "$TMP/err"
expect_rc "a paused run stays" 0 "$SHOAL" workflow show "$held"
"$SHOAL" workflow cancel "$held" >/dev/null
check "retention shutdown" stop_shoald

finish
