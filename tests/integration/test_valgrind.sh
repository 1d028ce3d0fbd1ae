#!/usr/bin/env bash
# shoald under valgrind memcheck: a short session through the CLI (submits,
# every handler, a restart of nothing) then an orderly shutdown must end
# with no memory errors and no definite or indirect leaks.
. "$(dirname "$0")/lib.sh"
command -v valgrind >/dev/null || { echo "valgrind not installed"; exit 1; }
REAL_SHOALD=$SHOALD
SHOALD="$TMP/vg-shoald"
cat >"$SHOALD" <<EOS
#!/bin/sh
exec valgrind --quiet --error-exitcode=99 --leak-check=full \
    --errors-for-leak-kinds=definite,indirect --track-fds=no \
    --log-file="$TMP/valgrind.log" "$REAL_SHOALD" "\$@"
EOS
chmod +x "$SHOALD"
export SHOAL_TIMEOUT=30
start_shoald --executors 2 || exit 1
for t in noop echo fail; do
    id=$("$SHOAL" submit --type $t --payload '{"message":"x"}')
    "$SHOAL" wait --timeout 60 "$id" >/dev/null
done
id=$("$SHOAL" submit --type sleep --payload '{"ms":600000}')
"$SHOAL" status "$id" >/dev/null
"$SHOAL" stats >/dev/null
"$SHOAL" status 0123456789abcdef0123456789abcdef >/dev/null 2>&1
"$SHOAL" shutdown >/dev/null
wait "$SHOALD_PID"
rc=$?
SHOALD_PID=""
check "shoald under valgrind exits 0 (got $rc)" test "$rc" -eq 0
if [ "$rc" -ne 0 ]; then sed 's/^/    /' "$TMP/valgrind.log" | head -60; fi
finish
