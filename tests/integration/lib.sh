# lib.sh - helpers for integration tests that drive a real shoald with the
# real CLI. Sourced by each test; needs SHOALD and SHOAL (paths to the
# binaries, set by ctest). Every wait is a bounded handshake (retry a
# request until it answers), never a sleep that hopes.

set -u
TMP=$(mktemp -d /tmp/shoal-test.XXXXXX)
DATA="$TMP/data"
export SHOAL_ENDPOINT="ipc://$TMP/control.sock"
MONITOR_EP="ipc://$TMP/monitor.sock"
SHOALD_PID=""
PASSED=0
FAILED=0

cleanup () {
    if [ -n "$SHOALD_PID" ] && kill -0 "$SHOALD_PID" 2>/dev/null; then
        kill -9 "$SHOALD_PID" 2>/dev/null
        wait "$SHOALD_PID" 2>/dev/null
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT

ok ()   { echo "ok   $1"; PASSED=$((PASSED + 1)); }
fail () { echo "FAIL $1"; FAILED=$((FAILED + 1)); }

# check NAME CMD...: passes if the command succeeds
check () {
    local name=$1; shift
    if "$@"; then ok "$name"; else fail "$name"; fi
}

# expect_rc NAME WANT CMD...: passes if the command exits with WANT
expect_rc () {
    local name=$1 want=$2; shift 2
    # bounded: a command that hangs fails here instead of stalling the run
    timeout -k 5 120 "$@" >"$TMP/out" 2>"$TMP/err"
    local rc=$?
    if [ "$rc" -eq "$want" ]; then
        ok "$name"
    else
        fail "$name (exit $rc, want $want)"
        sed 's/^/    /' "$TMP/err" | head -5
    fi
}

# start_shoald [extra args...]: starts shoald and waits until it answers.
start_shoald () {
    "$SHOALD" --data "$DATA" --control "$SHOAL_ENDPOINT" \
        --monitor "$MONITOR_EP" "$@" >>"$TMP/shoald.log" 2>&1 &
    SHOALD_PID=$!
    local i
    for i in $(seq 1 200); do
        if "$SHOAL" ping >/dev/null 2>&1; then
            return 0
        fi
        if ! kill -0 "$SHOALD_PID" 2>/dev/null; then
            echo "shoald exited during start:"; cat "$TMP/shoald.log"
            return 1
        fi
    done
    echo "shoald did not answer:"; cat "$TMP/shoald.log"
    return 1
}

kill9_shoald () {
    kill -9 "$SHOALD_PID" 2>/dev/null
    wait "$SHOALD_PID" 2>/dev/null
    SHOALD_PID=""
}

stop_shoald () {
    timeout -k 5 60 "$SHOAL" shutdown >/dev/null 2>&1
    # bounded: a shoald that does not stop is killed and reported
    local i
    for i in $(seq 1 600); do
        kill -0 "$SHOALD_PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$SHOALD_PID" 2>/dev/null; then
        echo "    shoald did not stop within 60 s; killed" >&2
        kill -9 "$SHOALD_PID" 2>/dev/null
    fi
    wait "$SHOALD_PID" 2>/dev/null
    local rc=$?
    SHOALD_PID=""
    return $rc
}

# json_field JSON KEY: prints a top-level string/number field
json_field () {
    printf '%s' "$1" | sed -n "s/.*\"$2\":\"\{0,1\}\([^\",}]*\)\"\{0,1\}[,}].*/\1/p"
}

finish () {
    echo "$PASSED passed, $FAILED failed"
    [ "$FAILED" -eq 0 ]
}
