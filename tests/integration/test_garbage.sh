#!/usr/bin/env bash
# Malformed frames and garbage at the control socket of a real shoald: each
# gets an error reply, the daemon keeps serving, accepted jobs survive.
. "$(dirname "$0")/lib.sh"
start_shoald || exit 1
before=$("$SHOAL" submit --type noop)
"$GARBAGE_CLIENT" "$SHOAL_ENDPOINT"
rc=$?
check "garbage_client cases" test "$rc" -eq 0
check "daemon still alive" kill -0 "$SHOALD_PID"
expect_rc "job accepted before the garbage still completes" 0 \
    "$SHOAL" wait --timeout 30 "$before"
check "clean shutdown" stop_shoald
finish
