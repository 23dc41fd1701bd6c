#!/bin/sh
# The install tests, run by `make test-install` (and so by `make test`): install into temporary
# prefixes (removed afterwards) and check the installed copy the way a user of it would.
#
#   1. a staged install (DESTDIR) has the whole layout, and its files name the final prefix,
#      not the staging directory; a staged uninstall removes everything
#   2. an install into a prefix: soname and symlinks, only pm_* symbols exported (nm -D), the
#      header's PM_VERSION_* macros equal to Cargo.toml's version
#   3. a C program built with `pkg-config --cflags --libs postmessage` and the C++ example
#      c-examples/seed.cpp and tests/install/wrapper.cpp (the C++ wrapper postmessage.hpp) built
#      the same way, run without LD_LIBRARY_PATH (the wrapper test also under valgrind)
#   4. the C program linked statically against libpostmessage.a with docs/building.md's flags
#   5. a CMake project using find_package(postmessage) and the imported targets
#      postmessage::postmessage and postmessage::postmessage_static (and the C++ example);
#      find_package rejects a version this copy does not satisfy
#   6. make uninstall removes everything
#
# The Makefile passes PM_MAKE, PM_CC, PM_CXX, PM_VALGRIND, PM_VERSION, PM_SONAME, PM_REALNAME
# and PM_COUNTS (a file that gets "PASSED FAILED"). Needs pkg-config and cmake (.ci/run
# installs them).
set -u

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
MAKE=${PM_MAKE:-make}
CC=${PM_CC:-cc}
CXX=${PM_CXX:-c++}
PKG_CONFIG=${PKG_CONFIG:-pkg-config}
CMAKE=${CMAKE:-cmake}
VALGRIND=${PM_VALGRIND:-valgrind}
VERSION=${PM_VERSION:?set by the Makefile}
SONAME=${PM_SONAME:?set by the Makefile}
REALNAME=${PM_REALNAME:?set by the Makefile}
COUNTS=${PM_COUNTS:-}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/pm-install-test.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
log="$tmp/log"

pass=0
fail=0
failed=""

ok() {
  pass=$((pass + 1))
  echo "  ok: $1"
}
not_ok() {
  fail=$((fail + 1))
  failed="$failed
  - $1"
  echo "  FAILED: $1"
}
# check DESCRIPTION COMMAND...: runs COMMAND; its output is shown only when it fails.
check() {
  desc=$1
  shift
  if "$@" >"$log" 2>&1; then
    ok "$desc"
  else
    sed 's/^/    | /' "$log"
    not_ok "$desc"
  fi
}
# run DESCRIPTION COMMAND...: runs a built program and shows its last line of output.
run() {
  desc=$1
  shift
  if "$@" >"$log" 2>&1; then
    ok "$desc: $(tail -n 1 "$log")"
  else
    sed 's/^/    | /' "$log"
    not_ok "$desc"
  fi
}

# make install / uninstall with every install variable given, so that none leaks in from the
# environment or an outer make's command line.
pm_make() {
  target=$1 destdir=$2 prefix=$3
  env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL "$MAKE" -C "$repo" --no-print-directory "$target" \
    DESTDIR="$destdir" PREFIX="$prefix" libdir="$prefix/lib" includedir="$prefix/include" \
    pkgconfigdir="$prefix/lib/pkgconfig" cmakedir="$prefix/lib/cmake/postmessage" PC_RPATH=auto
}

# layout ROOT: the files make install puts under ROOT (a prefix, possibly inside DESTDIR).
layout() {
  root=$1
  for f in "lib/$REALNAME" lib/libpostmessage.a include/postmessage.h include/postmessage.hpp \
    lib/pkgconfig/postmessage.pc lib/cmake/postmessage/postmessageConfig.cmake \
    lib/cmake/postmessage/postmessageConfigVersion.cmake; do
    [ -f "$root/$f" ] && [ ! -L "$root/$f" ] || { echo "missing file $root/$f"; return 1; }
  done
  for l in "lib/$SONAME" lib/libpostmessage.so; do
    [ "$l" != "lib/$REALNAME" ] || continue  # 0.0.z: the soname is the file name
    [ -L "$root/$l" ] || { echo "missing symlink $root/$l"; return 1; }
    [ "$(readlink "$root/$l")" = "$REALNAME" ] || { echo "$root/$l -> $(readlink "$root/$l")"; return 1; }
  done
}

# nothing_left DIR: no file or symlink remains under DIR.
nothing_left() {
  left=$(find "$1" \( -type f -o -type l \) -print)
  [ -z "$left" ] || { echo "left behind:"; echo "$left"; return 1; }
}

need_tool() {
  if command -v "$1" >/dev/null 2>&1; then return 0; fi
  echo "  $1 not found: install it (apt-get install -y $2) or run .ci/run"
  return 1
}

soname_is() { readelf -d "$1" | grep -q "Library soname: \[$2\]"; }
needs() { readelf -d "$1" | grep -q "Shared library: \[$2\]"; }
no_libpostmessage_needed() {
  if readelf -d "$1" | grep 'NEEDED' | grep -q libpostmessage; then
    readelf -d "$1" | grep NEEDED
    return 1
  fi
}
# only_pm_exports LIB: every defined dynamic symbol is pm_*, and pm_version is one.
only_pm_exports() {
  syms=$(nm -D --defined-only "$1" | awk '{ print $NF }')
  others=$(printf '%s\n' "$syms" | grep -v '^pm_')
  [ -z "$others" ] || { echo "exported symbols other than pm_*:"; echo "$others"; return 1; }
  printf '%s\n' "$syms" | grep -qx pm_version || { echo "pm_version is not exported"; return 1; }
  echo "$(printf '%s\n' "$syms" | wc -l) symbols, all pm_*"
}
header_version_is() {
  h=$1 v=$2
  major=${v%%.*} rest=${v#*.}
  minor=${rest%%.*} patch=${rest#*.}
  patch=${patch%%[-+]*}
  grep -qx "#define PM_VERSION_MAJOR $major" "$h" && grep -qx "#define PM_VERSION_MINOR $minor" "$h" &&
    grep -qx "#define PM_VERSION_PATCH $patch" "$h" && grep -qx "#define PM_VERSION_STRING \"$v\"" "$h" ||
    { grep PM_VERSION_ "$h"; return 1; }
}
# resolves_to PROGRAM LIB: the dynamic loader finds the soname at LIB (the installed copy).
resolves_to() {
  env -u LD_LIBRARY_PATH ldd "$1" | grep -q "$SONAME => $2" || { ldd "$1"; return 1; }
}
grep_q() { grep -q "$@"; }
not_grep() { ! grep -r "$@"; }
pc_version_is() {
  v=$("$PKG_CONFIG" --modversion postmessage) || return 1
  [ "$v" = "$1" ] || { echo "pkg-config --modversion postmessage: $v"; return 1; }
}
# every library of the native_static_libs variable is in `pkg-config --static --libs`
pc_static_libs_listed() {
  libs=$("$PKG_CONFIG" --variable=native_static_libs postmessage) || return 1
  all=" $("$PKG_CONFIG" --static --libs postmessage) "
  [ -n "$libs" ] || { echo "native_static_libs is empty"; return 1; }
  for l in $libs; do
    case "$all" in *" $l "*) ;; *) echo "$l missing from: $all"; return 1 ;; esac
  done
}
# docs/building.md's static-link recipe spells out the library list; it must be this build's.
readme_lists_static_libs() {
  libs=$("$PKG_CONFIG" --variable=native_static_libs postmessage) || return 1
  # join the backslash-continued lines of docs/building.md's commands
  sed -e ':a' -e '/\\$/N' -e 's/ *\\\n */ /' -e 'ta' "$repo/docs/building.md" \
    | grep -qF -- "\"\$PREFIX/lib/libpostmessage.a\" $libs -o app" && return 0
  echo "docs/building.md's static-link command should end: \"\$PREFIX/lib/libpostmessage.a\" $libs -o app"
  return 1
}
# cmake_rejects VERSION: find_package(postmessage VERSION) fails against the installed copy.
cmake_rejects() {
  d="$tmp/cmake-version"
  mkdir -p "$d"
  printf '%s\n' 'cmake_minimum_required(VERSION 3.13)' 'project(version_check LANGUAGES NONE)' \
    "find_package(postmessage $1 REQUIRED)" >"$d/CMakeLists.txt"
  if env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL "$CMAKE" -S "$d" -B "$d/build" \
    -DCMAKE_PREFIX_PATH="$prefix" >"$d/out" 2>&1; then
    cat "$d/out"
    return 1
  fi
  grep -q "$VERSION" "$d/out" || { cat "$d/out"; return 1; }
}

echo "install tests (postmessage $VERSION, soname $SONAME) in $tmp"
warn_flags="-Wall -Wextra -Wpedantic -Werror"

# ---- 1. staged install ------------------------------------------------------------------------
stage="$tmp/stage"
final=/opt/postmessage-install-test
check "make install DESTDIR=... PREFIX=$final" pm_make install "$stage" "$final"
check "staged layout under DESTDIR$final" layout "$stage$final"
check "staged postmessage.pc says prefix=$final" grep_q -x "prefix=$final" "$stage$final/lib/pkgconfig/postmessage.pc"
check "staged pkg-config and CMake files do not mention DESTDIR" not_grep -F "$stage" "$stage$final/lib"
check "make uninstall DESTDIR=... PREFIX=$final" pm_make uninstall "$stage" "$final"
check "staged uninstall removed everything" nothing_left "$stage"

# ---- 2. install into a prefix -----------------------------------------------------------------
prefix="$tmp/prefix"
lib="$prefix/lib"
check "make install PREFIX=<tmp>/prefix" pm_make install "" "$prefix"
check "layout: $REALNAME, symlinks $SONAME and libpostmessage.so, .a, headers, .pc, CMake" layout "$prefix"
check "soname of the installed library is $SONAME" soname_is "$lib/$REALNAME" "$SONAME"
check "nm -D --defined-only: only pm_* symbols are exported" only_pm_exports "$lib/$REALNAME"
check "installed header: PM_VERSION_* macros are Cargo.toml's $VERSION" header_version_is "$prefix/include/postmessage.h" "$VERSION"

# ---- 3. pkg-config ----------------------------------------------------------------------------
if need_tool "$PKG_CONFIG" pkg-config; then
  export PKG_CONFIG_PATH="$lib/pkgconfig"
  check "pkg-config --modversion postmessage is $VERSION" pc_version_is "$VERSION"
  check "pkg-config --static --libs postmessage has the native libraries (Libs.private)" pc_static_libs_listed
  # shellcheck disable=SC2046
  check "C program: $CC consumer.c \$(pkg-config --cflags --libs postmessage)" \
    $CC -std=c11 $warn_flags -DPM_HOW='"pkg-config"' -DPM_EXPECTED_VERSION="\"$VERSION\"" \
    "$here/consumer.c" -o "$tmp/consumer_pkgconfig" $($PKG_CONFIG --cflags --libs postmessage)
  check "  it needs $SONAME" needs "$tmp/consumer_pkgconfig" "$SONAME"
  check "  which the loader finds in the prefix without LD_LIBRARY_PATH (rpath)" \
    resolves_to "$tmp/consumer_pkgconfig" "$lib/$SONAME"
  run "  run" env -u LD_LIBRARY_PATH "$tmp/consumer_pkgconfig"
  # shellcheck disable=SC2046
  check "C++ program: $CXX -std=c++17 seed.cpp \$(pkg-config --cflags --libs postmessage) (postmessage.hpp)" \
    $CXX -std=c++17 $warn_flags "$repo/c-examples/seed.cpp" -o "$tmp/seed_cpp_pkgconfig" \
    $($PKG_CONFIG --cflags --libs postmessage)
  run "  run" env -u LD_LIBRARY_PATH "$tmp/seed_cpp_pkgconfig"
  # shellcheck disable=SC2046
  check "C++ program: wrapper.cpp (more of postmessage.hpp), built the same way" \
    $CXX -std=c++17 $warn_flags -g "$here/wrapper.cpp" -o "$tmp/wrapper_pkgconfig" \
    $($PKG_CONFIG --cflags --libs postmessage)
  run "  run" env -u LD_LIBRARY_PATH "$tmp/wrapper_pkgconfig"
  if command -v "$VALGRIND" >/dev/null 2>&1; then
    run "  run under valgrind" env -u LD_LIBRARY_PATH "$VALGRIND" -q --error-exitcode=99 \
      --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite \
      "$tmp/wrapper_pkgconfig"
  fi

  # ---- 4. static --------------------------------------------------------------------------------
  # shellcheck disable=SC2046
  check "static C program: consumer.c <libdir>/libpostmessage.a \$(pkg-config --variable=native_static_libs postmessage)" \
    $CC -std=c11 $warn_flags -DPM_HOW='"libpostmessage.a"' -DPM_EXPECTED_VERSION="\"$VERSION\"" \
    "$here/consumer.c" -o "$tmp/consumer_static" $($PKG_CONFIG --cflags postmessage) \
    "$($PKG_CONFIG --variable=libdir postmessage)/libpostmessage.a" \
    $($PKG_CONFIG --variable=native_static_libs postmessage)
  check "  it does not need libpostmessage.so" no_libpostmessage_needed "$tmp/consumer_static"
  run "  run" env -u LD_LIBRARY_PATH "$tmp/consumer_static"
  check "docs/building.md's plain static-link command lists the same libraries" readme_lists_static_libs
  unset PKG_CONFIG_PATH
else
  not_ok "pkg-config is needed for the pkg-config and static-link tests"
fi

# ---- 5. CMake ---------------------------------------------------------------------------------
if need_tool "$CMAKE" cmake; then
  major=${VERSION%%.*}
  rest=${VERSION#*.}
  minor=${rest%%.*}
  cmake_build="$tmp/cmake-build"
  check "cmake: find_package(postmessage $major.$minor REQUIRED) with CMAKE_PREFIX_PATH=<prefix>" \
    env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL "$CMAKE" -S "$here" -B "$cmake_build" \
    -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$CC" -DCMAKE_CXX_COMPILER="$CXX" \
    -DPM_FIND_VERSION="$major.$minor" -DPM_EXPECTED_VERSION="$VERSION" \
    -DPM_SEED_CPP="$repo/c-examples/seed.cpp"
  check "cmake --build (postmessage::postmessage, postmessage::postmessage_static, seed.cpp)" \
    env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL "$CMAKE" --build "$cmake_build" --parallel 2
  check "  consumer_cmake needs $SONAME" needs "$cmake_build/consumer_cmake" "$SONAME"
  run "  run consumer_cmake" env -u LD_LIBRARY_PATH "$cmake_build/consumer_cmake"
  check "  consumer_cmake_static does not need libpostmessage.so" no_libpostmessage_needed "$cmake_build/consumer_cmake_static"
  run "  run consumer_cmake_static" env -u LD_LIBRARY_PATH "$cmake_build/consumer_cmake_static"
  run "  run seed_cpp_cmake" env -u LD_LIBRARY_PATH "$cmake_build/seed_cpp_cmake"

  # A copy that does not satisfy the requested version is rejected by the version file.
  check "cmake: find_package(postmessage $major.$((minor + 1))) rejects $VERSION" \
    cmake_rejects "$major.$((minor + 1))"
else
  not_ok "cmake is needed for the CMake find_package test"
fi

# ---- 6. uninstall -----------------------------------------------------------------------------
check "make uninstall PREFIX=<tmp>/prefix" pm_make uninstall "" "$prefix"
check "uninstall removed everything" nothing_left "$prefix"

echo "install tests: $pass passed, $fail failed"
if [ -n "$failed" ]; then
  echo "failed install checks:$failed"
fi
if [ -n "$COUNTS" ]; then
  echo "$pass $fail" >"$COUNTS"
fi
[ "$fail" -eq 0 ]
