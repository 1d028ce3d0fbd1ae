#!/usr/bin/env bash
# CURVE on the control endpoint: only clients whose public key is in the
# allowlist folder get in (zauth, ZAP enforced: fails closed); a key
# removed from the folder is refused for new connections; shoald refuses
# to start on a half or wrong configuration.
. "$(dirname "$0")/lib.sh"

C="$TMP/certs"
mkdir -p "$C/allow"
for n in server alice mallory; do
    "$SHOAL" keygen "$C" --name "$n" >/dev/null || { echo "keygen $n failed"; exit 1; }
done
cp "$C/alice.key" "$C/allow/"
CURVE=(--set "shoald/curve_cert=$C/server.key_secret" --set "shoald/curve_allow=$C/allow")

# Half a configuration is refused at start, before anything binds.
expect_rc "curve_cert without an allowlist: 2" 2 timeout 20 "$SHOALD" --data "$TMP/d0" \
    --control "ipc://$TMP/c0.sock" --monitor "ipc://$TMP/m0.sock" \
    --set "shoald/curve_cert=$C/server.key_secret"
check "says what is missing" grep -q "needs shoald/curve_allow" "$TMP/err"
mkdir -p "$TMP/pubonly" && cp "$C/mallory.key" "$TMP/pubonly/"
expect_rc "a public certificate as curve_cert: 2" 2 timeout 20 "$SHOALD" \
    --data "$TMP/d0" --control "ipc://$TMP/c0.sock" \
    --monitor "ipc://$TMP/m0.sock" --set "shoald/curve_cert=$TMP/pubonly/mallory.key" \
    --set "shoald/curve_allow=$C/allow"
check "says it is not secret" grep -q "is not a secret certificate" "$TMP/err"
# With CURVE the control endpoint may face other hosts: the check lets
# it through (TEST-NET-1 is not on this host, so the bind then fails and
# no socket is opened).
expect_rc "non-loopback control with CURVE: past the check" 3 timeout 20 "$SHOALD" \
    --data "$TMP/d0" --control tcp://192.0.2.1:5999 \
    --monitor "ipc://$TMP/m0.sock" "${CURVE[@]}"
check "to the bind" grep -q "cannot bind tcp://192.0.2.1:5999" "$TMP/err"

export SHOAL_CERT="$C/alice.key_secret" SHOAL_SERVER_KEY="$C/server.key"
start_shoald "${CURVE[@]}" || exit 1
check "the log says CURVE is on" grep -q "control endpoint uses CURVE" "$TMP/shoald.log"
expect_rc "alice (allowed): ping" 0 "$SHOAL" ping
id=$("$SHOAL" submit --type echo --payload '{"over":"curve"}')
expect_rc "alice: a job end to end" 0 "$SHOAL" wait --timeout 30 --json "$id"
check "its result" grep -q '"result":{"over":"curve"}' "$TMP/out"
pub=$(sed -n 's/.*public-key = "\(.*\)"/\1/p' "$C/server.key")
expect_rc "the server key as Z85 text works too" 0 "$SHOAL" --server-key "$pub" ping

export SHOAL_TIMEOUT=1
expect_rc "mallory (not allowed): no answer" 3 \
    env SHOAL_CERT="$C/mallory.key_secret" "$SHOAL" ping
expect_rc "no CURVE at all: no answer" 3 env -u SHOAL_CERT -u SHOAL_SERVER_KEY "$SHOAL" ping
expect_rc "the wrong server key: no answer" 3 \
    env SHOAL_SERVER_KEY="$C/alice.key" "$SHOAL" ping
expect_rc "--cert without --server-key: usage" 2 env -u SHOAL_SERVER_KEY "$SHOAL" ping
expect_rc "a public file as --cert: usage" 2 env SHOAL_CERT="$TMP/pubonly/mallory.key" "$SHOAL" ping

# Revoking: the folder is read again when it changes.
rm "$C/allow/alice.key"
revoked=0
for i in $(seq 1 20); do
    if ! "$SHOAL" ping >/dev/null 2>&1; then revoked=1; break; fi
    sleep 0.2
done
check "alice's key removed: refused" test "$revoked" = 1
cp "$C/alice.key" "$C/allow/"
back=0
for i in $(seq 1 20); do
    if "$SHOAL" ping >/dev/null 2>&1; then back=1; break; fi
    sleep 0.2
done
check "put back: served again" test "$back" = 1
unset SHOAL_TIMEOUT
expect_rc "the refusals cost nothing: stats" 0 "$SHOAL" stats
check "shutdown over CURVE" stop_shoald

finish
