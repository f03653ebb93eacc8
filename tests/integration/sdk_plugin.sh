# The SDK: `cmake --install` puts kpid/plugin.h and kpid-plugin.pc in place; an
# out-of-tree plugin (examples/ticker) builds against them through pkg-config, loads,
# ingests, and resumes from its committed cursor. A plugin built for another ABI major
# is refused with both versions named.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/common.sh"
kpid_test_init sdk_plugin

prefix=$KPID_WORK/prefix
cmake --install "$KPID_BUILD_DIR" --prefix "$prefix" >"$KPID_WORK/install.log" 2>&1 ||
    { cat "$KPID_WORK/install.log" >&2; fail "cmake --install failed"; }
[ -f "$prefix/include/kpid/plugin.h" ] || fail "plugin.h not installed"
[ -x "$prefix/sbin/kpid" ] || fail "kpid not installed in sbin"
pc=$(find "$prefix" -name kpid-plugin.pc | head -1)
[ -n "$pc" ] || fail "kpid-plugin.pc not installed"
ls "$prefix"/lib*/kpid/plugins/file.so >/dev/null 2>&1 || ls "$prefix"/lib/*/kpid/plugins/file.so >/dev/null ||
    fail "file.so not installed under lib/kpid/plugins"

# pkg-config reports the install's prefix as configured; point it at ours.
cp -r "$KPID_SOURCE_DIR/examples/ticker" "$KPID_WORK/ticker"
sed -i "s|^prefix=.*|prefix=$prefix|; s|^includedir=.*|includedir=$prefix/include|" "$pc"
PKG_CONFIG_PATH=$(dirname "$pc") make -C "$KPID_WORK/ticker" >"$KPID_WORK/make.log" 2>&1 ||
    { cat "$KPID_WORK/make.log" >&2; fail "the example plugin does not build against the SDK"; }
grep -q -- "-I$prefix/include" "$KPID_WORK/make.log" || fail "the build did not use pkg-config's flags"

mkdir "$KPID_WORK/plugins"
cp "$KPID_WORK/ticker/ticker.so" "$KPID_WORK/plugins/"
cat >"$KPID_WORK/kpid.conf" <<CONF
pseudonymize = false;
warehouse = { conninfo = "$KPID_TEST_CONNINFO"; flush_interval_ms = 20; };
sources = ( { name = "ticks"; plugin = "ticker"; total = 250; per_batch = 20; } );
CONF
KPID_PLUGIN_DIR=$KPID_WORK/plugins kpid_run "$KPID_WORK/kpid.conf" --once || fail "kpid --once with the example plugin"
assert_sql "SELECT count(*), min(value), max(value) FROM kpid.event WHERE source = 'ticks'" "250|0|249" "ticks"
assert_sql "SELECT cursor FROM kpid.cursor WHERE source = 'ticks'" 250 "cursor"
# More ticks: it resumes after the committed cursor.
sed -i 's/total = 250/total = 300/' "$KPID_WORK/kpid.conf"
KPID_PLUGIN_DIR=$KPID_WORK/plugins kpid_run "$KPID_WORK/kpid.conf" --once || fail "second run"
assert_sql "SELECT count(*), count(DISTINCT event_key) FROM kpid.event" "300|300" "resumed ticks"
# Built against the ABI 1.0 header (tests/fixtures/abi-1.0, the header as 1.0 shipped
# it), the same plugin loads and runs on this 1.1 host: a minor version only adds.
mkdir "$KPID_WORK/ticker-1.0" "$KPID_WORK/plugins-1.0"
grep -q '#define KPID_ABI_MINOR 0' "$KPID_SOURCE_DIR/tests/fixtures/abi-1.0/kpid/plugin.h" ||
    fail "the ABI 1.0 fixture is not the 1.0 header"
cc -std=c17 -O2 -Wall -Wextra -Werror -shared -fPIC -fvisibility=hidden \
    -I"$KPID_SOURCE_DIR/tests/fixtures/abi-1.0" -o "$KPID_WORK/plugins-1.0/ticker.so" \
    "$KPID_SOURCE_DIR/examples/ticker/ticker.c" || fail "the example does not build against ABI 1.0"
sed 's/name = "ticks"/name = "ticks10"/; s/total = 300/total = 40/' "$KPID_WORK/kpid.conf" \
    >"$KPID_WORK/abi10.conf"
KPID_PLUGIN_DIR=$KPID_WORK/plugins-1.0 kpid_run "$KPID_WORK/abi10.conf" --once ||
    fail "kpid --once with the plugin built for ABI 1.0"
assert_sql "SELECT count(*), min(value), max(value) FROM kpid.event WHERE source = 'ticks10'" \
    "40|0|39" "ticks of the ABI 1.0 plugin"
assert_sql "SELECT cursor FROM kpid.cursor WHERE source = 'ticks10'" 40 "cursor of the ABI 1.0 plugin"

# A key the plugin does not declare is refused with the line.
sed -i 's/per_batch = 20;/per_bacth = 20;/' "$KPID_WORK/kpid.conf"
KPID_PLUGIN_DIR=$KPID_WORK/plugins kpid_run "$KPID_WORK/kpid.conf" --check-config && fail "a typo was accepted"
grep -q 'kpid.conf:3: unknown key "per_bacth".*did you mean "per_batch"' "$KPID_LOG" || fail "no suggestion for the typo"

# Another ABI major: refused, naming both versions.
sed 's/KPID_PLUGIN_DEF_HEADER,/.abi_major = KPID_ABI_MAJOR + 1, .abi_minor = 0, .struct_size = sizeof(kpid_plugin_def),/' \
    "$KPID_WORK/ticker/ticker.c" >"$KPID_WORK/ticker/future.c"
cc -std=c17 -shared -fPIC -I"$prefix/include" -fvisibility=hidden -o "$KPID_WORK/plugins/future.so" \
    "$KPID_WORK/ticker/future.c" || fail "cannot build the future plugin"
sed -i 's/plugin = "ticker"/plugin = "future"/; s/per_bacth/per_batch/' "$KPID_WORK/kpid.conf"
KPID_PLUGIN_DIR=$KPID_WORK/plugins kpid_run "$KPID_WORK/kpid.conf" --check-config && fail "an ABI 2 plugin was accepted"
assert_eq "$KPID_EXIT" 78 "exit status for an ABI mismatch"
grep -q 'ABI mismatch; kpid speaks ABI 1.1, the plugin was built for ABI 2.0' "$KPID_LOG" ||
    fail "the ABI message does not name both versions"
