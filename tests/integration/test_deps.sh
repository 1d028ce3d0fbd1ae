#!/usr/bin/env bash
# Continuations and batches end to end through the CLI and a real shoald:
# --after with success and any, batches from JSON lines and arrays, wait
# and show on a batch, bad input (exit 2), and both surviving kill -9.
# Jobs that must stay pending are delayed by an hour and ended with
# cancel, so nothing here depends on timing.
. "$(dirname "$0")/lib.sh"

expect_rc "bad --after: 2" 2 "$SHOAL" submit --type noop --after nope
expect_rc "--after-mode without --after: 2" 2 "$SHOAL" submit --type noop --after-mode any
expect_rc "bad --after-mode: 2" 2 "$SHOAL" submit --type noop \
    --after 0123456789abcdef0123456789abcdef --after-mode sometimes
expect_rc "batch without file: 2" 2 "$SHOAL" batch submit
printf '{"type":"noop"}\n{"type":\n' >"$TMP/bad.jsonl"
expect_rc "batch bad JSON line: 2" 2 "$SHOAL" batch submit "$TMP/bad.jsonl"
check "names the line" grep -q "line 2" "$TMP/err"
echo '[{"type":"noop","colour":"red"}]' >"$TMP/unknown.json"
expect_rc "batch unknown field: 2" 2 "$SHOAL" batch submit "$TMP/unknown.json"
check "names the field" grep -q colour "$TMP/err"
echo '[{"type":"noop","key":"k1"}]' >"$TMP/key.json"
expect_rc "batch job with key: 2" 2 "$SHOAL" batch submit "$TMP/key.json"
echo '[{"type":"no spaces"}]' >"$TMP/type.json"
expect_rc "batch bad type: 2" 2 "$SHOAL" batch submit "$TMP/type.json"
echo '[]' >"$TMP/empty.json"
expect_rc "empty batch: 2" 2 "$SHOAL" batch submit "$TMP/empty.json"

start_shoald || exit 1

# continuations
p=$("$SHOAL" submit --type noop)
c=$("$SHOAL" submit --type echo --payload '{"n":2}' --after "$p")
expect_rc "continuation of a success runs: 0" 0 "$SHOAL" wait --timeout 30 --json "$c"
check "shows its parent" grep -q "\"after\":\"$p\"" "$TMP/out"
dead=$("$SHOAL" submit --type fail --payload '{"message":"no"}')
expect_rc "parent dies: 4" 4 "$SHOAL" wait --timeout 30 "$dead"
c=$("$SHOAL" submit --type noop --after "$dead")
expect_rc "success-only after a dead parent: 4" 4 "$SHOAL" wait --timeout 30 --json "$c"
check "cancelled" grep -q '"state":"cancelled"' "$TMP/out"
check "says which dependency" grep -q "dependency $dead did not succeed" "$TMP/out"
c=$("$SHOAL" submit --type noop --after "$dead" --after-mode any)
expect_rc "any after a dead parent runs: 0" 0 "$SHOAL" wait --timeout 30 "$c"
expect_rc "unknown parent refused: 1" 1 "$SHOAL" submit --type noop \
    --after 0123456789abcdef0123456789abcdef
check "not found" grep -q NOT_FOUND "$TMP/err"
later=$("$SHOAL" submit --type noop --delay 1h)
w1=$("$SHOAL" submit --type noop --after "$later")
w2=$("$SHOAL" submit --type noop --after "$w1" --after-mode any)
expect_rc "waiting status" 0 "$SHOAL" status --json "$w1"
check "state waiting" grep -q '"state":"waiting"' "$TMP/out"
expect_rc "list waiting" 0 "$SHOAL" list --state waiting --json
check "both listed" test "$(grep -o '"state":"waiting"' "$TMP/out" | wc -l)" -eq 2

# batches
b=$(printf '{"type":"noop"}\n\n{"type":"echo","payload":{"x":1},"priority":"high"}\n{"type":"noop","queue":"q2","timeout":"30s","retry":"none"}\n' |
    "$SHOAL" batch submit - | head -n 1)
check "batch id printed" test "${#b}" -eq 32
expect_rc "wait on a batch: 0" 0 "$SHOAL" wait --timeout 30 --json "$b"
check "batch succeeded" grep -q '"state":"succeeded"' "$TMP/out"
expect_rc "batch show --json" 0 "$SHOAL" batch show --json "$b"
check "counts" grep -q '"total":3,"succeeded":3,"failed":0' "$TMP/out"
expect_rc "batch show (human)" 0 "$SHOAL" batch show "$b"
check "lists its jobs" test "$(grep -c '^job ' "$TMP/out")" -eq 3
c=$("$SHOAL" submit --type noop --after "$b")
expect_rc "continuation of a finished batch runs: 0" 0 "$SHOAL" wait --timeout 30 "$c"

echo '[{"type":"noop","delay":"1h"},{"type":"noop","delay":"1h"},{"type":"noop","delay":"1h"}]' >"$TMP/three.json"
"$SHOAL" batch submit --key nightly "$TMP/three.json" >"$TMP/batch2"
b2=$(head -n 1 "$TMP/batch2")
m1=$(sed -n 2p "$TMP/batch2")
again=$("$SHOAL" batch submit --key nightly "$TMP/three.json" | head -n 1)
check "same batch key, same batch" test "$b2" = "$again"
ok_c=$("$SHOAL" submit --type noop --after "$b2")
any_c=$("$SHOAL" submit --type noop --after "$b2" --after-mode any)

# kill -9: waiting jobs, batches and their continuations survive
kill9_shoald
start_shoald || exit 1
expect_rc "waiting after kill -9" 0 "$SHOAL" status --json "$w1"
check "still waiting" grep -q '"state":"waiting"' "$TMP/out"
expect_rc "batch after kill -9" 0 "$SHOAL" batch show --json "$b2"
check "still running" grep -q '"state":"running"' "$TMP/out"

expect_rc "cancel the parent" 0 "$SHOAL" cancel "$later"
expect_rc "success-only child cancelled: 4" 4 "$SHOAL" wait --timeout 30 "$w1"
expect_rc "its any child runs: 0" 0 "$SHOAL" wait --timeout 30 "$w2"

expect_rc "cancel one member" 0 "$SHOAL" cancel "$m1"
expect_rc "the batch fails as one: 4" 4 "$SHOAL" wait --timeout 30 --json "$b2"
check "failed, all counted" grep -q '"total":3,"succeeded":0,"failed":3' "$TMP/out"
expect_rc "success continuation of the batch: 4" 4 "$SHOAL" wait --timeout 30 "$ok_c"
expect_rc "any continuation of the batch: 0" 0 "$SHOAL" wait --timeout 30 "$any_c"

check "clean shutdown" stop_shoald
finish
