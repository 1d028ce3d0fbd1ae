#!/usr/bin/env bash
# Crash safety with a real shoald: kill -9 in the middle of a load, restart
# on the same data folder, and check that every acknowledged job completes
# and that a job that was running at the crash is re-run as attempt 2.
. "$(dirname "$0")/lib.sh"

ROUNDS=${SHOAL_CRASH_ROUNDS:-3}
PER_ROUND=${SHOAL_CRASH_JOBS:-150}

# 1. A job leased at the moment of the crash comes back with attempt + 1.
start_shoald || exit 1
long=$("$SHOAL" submit --type sleep --payload '{"ms":1500}' | tail -n 1)
for i in $(seq 1 500); do
    "$SHOAL" status --json "$long" | grep -q '"state":"leased"' && break
done
check "job is leased before the crash" \
    sh -c "'$SHOAL' status --json $long | grep -q '\"state\":\"leased\"'"
kill9_shoald
start_shoald || exit 1
expect_rc "recovered job completes" 0 "$SHOAL" wait --timeout 60 --json "$long"
check "recovered job ran as attempt 2" grep -q '"attempt":2' "$TMP/out"

# 2. Acknowledged submits survive kill -9 under load, several times.
: >"$TMP/acked"
for round in $(seq 1 "$ROUNDS"); do
    # Submitters record an id only after shoald acknowledged it.
    for c in 1 2 3 4; do
        (
            export SHOAL_TIMEOUT=2
            for i in $(seq 1 "$PER_ROUND"); do
                id=$("$SHOAL" -e "$SHOAL_ENDPOINT" submit --type echo \
                     --payload "{\"r\":$round,\"c\":$c,\"i\":$i}" 2>/dev/null) || break
                echo "$id" >>"$TMP/acked.$c"
            done
        ) &
    done
    # Kill once a third of this round's submits are acknowledged.
    want=$(( (round - 1) * 4 * PER_ROUND / 2 + PER_ROUND ))
    for i in $(seq 1 3000); do
        n=$(cat "$TMP"/acked.* 2>/dev/null | wc -l)
        [ "$n" -ge "$want" ] && break
        sleep 0.01
    done
    kill9_shoald
    wait # submitters stop: their requests now fail with exit 3
    start_shoald || exit 1
done
cat "$TMP"/acked.* >"$TMP/acked"
total=$(wc -l <"$TMP/acked")
check "some submits were acknowledged ($total)" test "$total" -gt 0

lost=0
for id in $(cat "$TMP/acked"); do
    if ! "$SHOAL" wait --timeout 60 "$id" >/dev/null 2>&1; then
        lost=$((lost + 1))
        echo "    lost or failed: $id"
    fi
done
check "every acknowledged job succeeded ($total jobs, $lost lost)" test "$lost" -eq 0

expect_rc "stats after crashes" 0 "$SHOAL" stats --json
check "nothing left leased" grep -q '"leased":0' "$TMP/out"
check "clean shutdown after crashes" stop_shoald
finish
