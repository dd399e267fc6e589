#!/bin/sh
# Installs the built library into a temporary prefix, then builds and runs
# an example against it twice: through pkg-config and through CMake's
# find_package. Usage: check-install.sh BUILD_DIR SOURCE_DIR
set -eu
build=$1
src=$2
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
libdir=$(ls -d "$prefix"/lib*/pkgconfig | head -n 1)
libdir=${libdir%/pkgconfig}

# pkg-config, against the shared library.
export PKG_CONFIG_PATH="$libdir/pkgconfig"
sed -i "s|^prefix=.*|prefix=$prefix|" "$libdir/pkgconfig/mproc.pc"
cc -o "$prefix/consumer_pc" "$src/examples/process_basics.c" \
    $(pkg-config --cflags --libs mproc)
LD_LIBRARY_PATH="$libdir" "$prefix/consumer_pc" >/dev/null

# pkg-config --static, against the static library.
cc -static-libgcc -o "$prefix/consumer_static" \
    "$src/examples/process_basics.c" $(pkg-config --cflags mproc) \
    "$libdir/libmproc.a" $(pkg-config --libs-only-l --static mproc | sed 's/-lmproc//')
"$prefix/consumer_static" >/dev/null

# CMake's find_package.
cmake -S "$src/tests/install" -B "$prefix/cmake-build" \
    -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$prefix/cmake-build" >/dev/null
LD_LIBRARY_PATH="$libdir" "$prefix/cmake-build/consumer_cmake" >/dev/null

# Only the public API is exported from the shared library.
if nm -D --defined-only "$libdir/libmproc.so" | awk '{print $3}' |
    grep -v '^mproc_[a-z]' | grep -q .; then
    echo "libmproc.so exports non-public symbols:" >&2
    nm -D --defined-only "$libdir/libmproc.so" | grep -v ' mproc_[a-z]' >&2
    exit 1
fi
echo "install: pkg-config, static and find_package consumers run"
