#!/usr/bin/env bash
# Handler plugins in a real shoald: a plugin that cannot load stops the
# daemon at start with a message (exit 2); the example plugin's jobs run
# in process executors; a plugin handler that crashes (SIGSEGV) takes
# down only its executor process, the supervisor restarts it, and the job
# follows its retry policy (class executor_lost) to the DLQ.
. "$(dirname "$0")/lib.sh"
: "${EXAMPLE_PLUGIN:?}" "${BAD_PLUGIN_DIR:?}"

refuse () {
    local name=$1 want=$2; shift 2
    "$SHOALD" --data "$DATA" --control "$SHOAL_ENDPOINT" \
        --monitor "$MONITOR_EP" "$@" >"$TMP/out" 2>"$TMP/err"
    local rc=$?
    if [ "$rc" -eq 2 ] && grep -q -- "$want" "$TMP/err"; then
        ok "$name"
    else
        fail "$name (exit $rc)"
        sed 's/^/    /' "$TMP/err" | head -5
    fi
}
refuse "missing plugin refused at start" "cannot load" \
    --plugin "$TMP/nonexistent.so"
refuse "plugin without shoal_plugin_init refused" "no symbol shoal_plugin_init" \
    --plugin "$BAD_PLUGIN_DIR/bad_plugin_nosym.so"
refuse "plugin of another ABI refused" "built for plugin ABI 999" \
    --set "executors/plugins=$BAD_PLUGIN_DIR/bad_plugin_abi.so"
refuse "plugin shadowing a built-in refused" "type 'echo' is built in" \
    --plugin "$EXAMPLE_PLUGIN" --plugin "$BAD_PLUGIN_DIR/bad_plugin_builtin.so"

start_shoald --mode process --executors 2 --plugin "$EXAMPLE_PLUGIN" || exit 1
check "plugin types logged" grep -q "plugin job types: upper (example)" \
    "$TMP/shoald.log"
id=$("$SHOAL" submit --type upper --payload '{"text":"shoal"}')
expect_rc "plugin job runs in a process executor" 0 \
    "$SHOAL" wait --timeout 30 --json "$id"
check "upper result" grep -q '"result":{"text":"SHOAL"}' "$TMP/out"
id=$("$SHOAL" submit --type word_count --payload '{"text":"a b c"}')
expect_rc "word_count" 0 "$SHOAL" wait --timeout 30 --json "$id"
check "word_count result" grep -q '"words":3' "$TMP/out"

# The crash handler kills its executor process on every attempt: eight
# attempts (executor_lost), then the DLQ. Far more executor deaths than
# supervisor/max_restarts (5 in 10 s): executor restarts back off instead
# of counting toward it, so the daemon keeps serving.
crash=$("$SHOAL" submit --type crash --retry fixed:max=8,delay=10ms)
expect_rc "crashing plugin job ends dead" 4 \
    "$SHOAL" wait --timeout 120 --json "$crash"
check "state dead" grep -q '"state":"dead"' "$TMP/out"
check "eight attempts" grep -q '"attempt":8' "$TMP/out"
check "restarts back off" grep -q "restarting in" "$TMP/shoald.log"
check "the host did not give up" sh -c "! grep -q 'giving up' '$TMP/shoald.log'"
check "class executor_lost" grep -q '"error_class":"executor_lost"' "$TMP/out"
check "executor restarted" grep -q "restarting" "$TMP/shoald.log"
id=$("$SHOAL" submit --type upper --payload '{"text":"after"}')
expect_rc "executors still serve after the crashes" 0 \
    "$SHOAL" wait --timeout 30 --json "$id"
check "result after the crashes" grep -q '"text":"AFTER"' "$TMP/out"
expect_rc "shoald still up" 0 kill -0 "$SHOALD_PID"
expect_rc "stats" 0 "$SHOAL" stats
check "stats shows lease counters" grep -q "stale_extends" "$TMP/out"
check "clean shutdown" stop_shoald
if [ "$FAILED" -gt 0 ]; then
    echo "shoald log:"; sed 's/^/    /' "$TMP/shoald.log"
fi
finish
