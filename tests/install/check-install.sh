#!/bin/sh
# Checks an installation of mproc the way its users meet it: programs built
# against it with pkg-config (shared, and --static) and with CMake's
# find_package (mproc::mproc and mproc::mproc_static) run without
# LD_LIBRARY_PATH; the prefix still works after it is copied elsewhere
# (mproc.pc is relocatable); the soname carries the minor version while at
# 0.x and CMake refuses another 0.x; only the public API is exported; and
# every exported function has a man page that man shows.
#
# Usage: check-install.sh BUILD_DIR SOURCE_DIR
#            installs BUILD_DIR into a temporary prefix (cmake --install)
#        check-install.sh --prefix PREFIX SOURCE_DIR
#            checks what is installed in PREFIX (make install-check)
set -eu
if [ "$1" = --prefix ]; then
    prefix=$2
    src=$3
    work=$(mktemp -d)
else
    build=$1
    src=$2
    work=$(mktemp -d)
    prefix=$work/prefix
    cmake --install "$build" --prefix "$prefix" >/dev/null
fi
trap 'rm -rf "$work"' EXIT
src=$(cd "$src" && pwd)
unset LD_LIBRARY_PATH
example=$src/examples/process_basics.c

fail() {
    echo "install: $*" >&2
    exit 1
}

pcdir=$(ls -d "$prefix"/lib*/pkgconfig "$prefix"/lib/*/pkgconfig 2>/dev/null |
    head -n 1)
[ -n "$pcdir" ] || fail "no pkgconfig folder under $prefix"
libdir=$(cd "$pcdir/.." && pwd)

# The soname: libmproc.so.MAJOR.MINOR while the version is 0.x.
version=$(PKG_CONFIG_PATH=$pcdir pkg-config --modversion mproc)
case "$version" in
0.*) want_soname=libmproc.so.$(echo "$version" | cut -d. -f1,2) ;;
*) want_soname=libmproc.so.$(echo "$version" | cut -d. -f1) ;;
esac
soname=$(readelf -d "$libdir/libmproc.so" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
[ "$soname" = "$want_soname" ] ||
    fail "soname $soname, expected $want_soname for version $version"

# pkg-config, against the shared library, then fully static.
export PKG_CONFIG_PATH="$pcdir"
# shellcheck disable=SC2046
cc -o "$work/consumer_pc" "$example" $(pkg-config --cflags --libs mproc)
"$work/consumer_pc" >/dev/null || fail "the pkg-config program failed"
ldd "$work/consumer_pc" | grep -q "libmproc.*=> $libdir" ||
    fail "the pkg-config program does not load $libdir/libmproc"
# shellcheck disable=SC2046
cc -static -o "$work/consumer_static" "$example" \
    $(pkg-config --static --cflags --libs mproc) 2>"$work/static.log" ||
    { cat "$work/static.log" >&2; fail "the static link failed"; }
"$work/consumer_static" >/dev/null || fail "the static program failed"

# Relocatable: a copy of the prefix is found where the copy is.
cp -a "$prefix" "$work/copy"
moved=$(PKG_CONFIG_PATH="$work/copy/${pcdir#"$prefix"/}" \
    pkg-config --variable=includedir mproc)
case "$moved" in
"$work/copy"/*) [ -f "$moved/mproc.h" ] || fail "no $moved/mproc.h" ;;
*) fail "the copied prefix's mproc.pc names $moved" ;;
esac

# CMake's find_package: the shared and the static target.
cmake -S "$src/tests/install" -B "$work/cmake-build" \
    -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/cmake-build" >/dev/null
"$work/cmake-build/consumer_cmake" >/dev/null || fail "mproc::mproc program"
"$work/cmake-build/consumer_cmake_static" >/dev/null ||
    fail "mproc::mproc_static program"
# ... and another 0.x is refused while the API is still growing.
other=$(echo "$version" | awk -F. '$1 == 0 { print "0." $2 + 1; exit }
    { print $1 + 1 ".0" }')
if cmake -S "$src/tests/install" -B "$work/cmake-other" \
    -DCMAKE_PREFIX_PATH="$prefix" -DMPROC_WANT="$other" >/dev/null 2>&1; then
    fail "find_package(mproc $other) accepted version $version"
fi

# Only the public API is exported from the shared library.
if nm -D --defined-only "$libdir/libmproc.so" | awk '{print $3}' |
    grep -v '^mproc_[a-z]' | grep -q .; then
    echo "libmproc.so exports non-public symbols:" >&2
    nm -D --defined-only "$libdir/libmproc.so" | grep -v ' mproc_[a-z]' >&2
    exit 1
fi

# Man pages: one per exported function, and man shows them.
mandir=$prefix/share/man
python3 "$src/scripts/mkman" --check "$libdir/libmproc.so" "$mandir" >/dev/null
if command -v man >/dev/null; then
    for page in mproc_queue_put mproc_process_kill mproc_log_to_stderr; do
        man -M "$mandir" "$page" 2>/dev/null | grep -q "$page" ||
            fail "man -M $mandir $page shows no page"
    done
fi
echo "install: pkg-config (shared, static), find_package (shared, static)," \
    "relocated prefix, soname $soname, exports and man pages all right"
