# The SDK: `cmake --install` puts kpid/plugin.h and kpid-plugin.pc in place; an
# out-of-tree plugin (examples/ticker) builds against them through pkg-config, loads,
# ingests, and resumes from its committed cursor. The same plugin built against the
# headers of older minor versions (tests/fixtures/abi-1.0, abi-1.1) loads and runs
# unchanged. kpid-plugin.pc brings libconfig, whose config_setting_t the header hands
# out: a plugin that reads a nested section links with nothing else. A plugin built for
# another ABI major is refused with both versions named.
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
# Built against the headers of ABI 1.0 and 1.1 (tests/fixtures, the headers as those
# versions shipped them), the same plugin loads and runs on this host: a minor version
# only adds.
abi=$(sed -n 's/^#define KPID_ABI_MAJOR \([0-9]*\)$/\1/p' "$prefix/include/kpid/plugin.h").$(
    sed -n 's/^#define KPID_ABI_MINOR \([0-9]*\)$/\1/p' "$prefix/include/kpid/plugin.h")
for old in 1.0 1.1; do
    n=${old/./}
    fixture=$KPID_SOURCE_DIR/tests/fixtures/abi-$old
    mkdir "$KPID_WORK/plugins-$old"
    grep -q "#define KPID_ABI_MINOR ${old#1.}\$" "$fixture/kpid/plugin.h" ||
        fail "the ABI $old fixture is not the $old header"
    cc -std=c17 -O2 -Wall -Wextra -Werror -shared -fPIC -fvisibility=hidden \
        -I"$fixture" -o "$KPID_WORK/plugins-$old/ticker.so" \
        "$KPID_SOURCE_DIR/examples/ticker/ticker.c" || fail "the example does not build against ABI $old"
    sed "s/name = \"ticks\"/name = \"ticks$n\"/; s/total = 300/total = 40/" "$KPID_WORK/kpid.conf" \
        >"$KPID_WORK/abi$n.conf"
    KPID_PLUGIN_DIR=$KPID_WORK/plugins-$old kpid_run "$KPID_WORK/abi$n.conf" --once ||
        fail "kpid --once with the plugin built for ABI $old"
    assert_sql "SELECT count(*), min(value), max(value) FROM kpid.event WHERE source = 'ticks$n'" \
        "40|0|39" "ticks of the ABI $old plugin on an ABI $abi host"
    assert_sql "SELECT cursor FROM kpid.cursor WHERE source = 'ticks$n'" 40 "cursor of the ABI $old plugin"
done

# kpid-plugin.pc requires libconfig: a plugin of ABI 1.2 that reads a nested section
# with libconfig's functions (tests/integration/plugins/pressure.c) builds with
# pkg-config's flags alone, every symbol resolved (-Wl,--no-undefined), and loads.
PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --print-requires kpid-plugin | grep -q '^libconfig' ||
    fail "kpid-plugin.pc does not require libconfig"
mkdir "$KPID_WORK/plugins-1.2"
# shellcheck disable=SC2046 # pkg-config's flags are words
cc -std=c17 -O2 -Wall -Wextra -Werror -shared -Wl,--no-undefined \
    -o "$KPID_WORK/plugins-1.2/pressure.so" "$KPID_SOURCE_DIR/tests/integration/plugins/pressure.c" \
    $(PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --cflags --libs kpid-plugin) ||
    fail "a plugin reading a nested section does not build with kpid-plugin.pc's flags"
cat >"$KPID_WORK/pressure.conf" <<CONF
pseudonymize = false;
warehouse = { conninfo = "$KPID_TEST_CONNINFO"; };
sources = ( { name = "bp"; plugin = "pressure"; labels = ( { name = "feed"; value = "adt"; } ); } );
CONF
KPID_PLUGIN_DIR=$KPID_WORK/plugins-1.2 kpid_run "$KPID_WORK/pressure.conf" --check-config ||
    fail "the out-of-tree ABI 1.2 plugin does not load"

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
grep -q "ABI mismatch; kpid speaks ABI $abi, the plugin was built for ABI 2.0" "$KPID_LOG" ||
    fail "the ABI message does not name both versions"
