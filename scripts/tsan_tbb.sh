#!/usr/bin/env bash
# Builds oneTBB with ThreadSanitizer from Debian's source package of the installed libtbb-dev
# (same version, same Debian patches) and prints its install prefix on the last line.
# Why: Debian's libtbb.so is not instrumented, so TSan cannot see the synchronisation of a
# task's spawn, theft and completion, and reports data handed between tasks as racing. With
# an instrumented libtbb, every happens-before edge TBB provides is visible, and what TSan
# reports is ours. Used by scripts/sanitize.sh tsan.
# The source comes through apt from the Debian archive this machine is configured for, with
# a private apt state (the system's sources and lists are left as they are). The build is
# cached in $GRADFLOW_CACHE_DIR (default /var/cache/gradflow, or ~/.cache/gradflow for a user
# who cannot write there) under the package version, and
# installed atomically, so a second run, or one after an interrupted build, is safe.
set -euo pipefail

version=$(dpkg-query -W -f='${Version}' libtbb-dev)
source_package=$(dpkg-query -W -f='${source:Package}' libtbb-dev)
default_cache=/var/cache/gradflow
[ -w /var/cache ] || default_cache=${XDG_CACHE_HOME:-$HOME/.cache}/gradflow
cache=${GRADFLOW_CACHE_DIR:-$default_cache}
prefix=$cache/$source_package-$version-tsan
if [ -f "$prefix/lib/cmake/TBB/TBBConfig.cmake" ]; then
  echo "$prefix"
  exit 0
fi

mkdir -p "$cache"
work=$(mktemp -d "$cache/.tbb-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/sources.list.d" "$work/lists/partial" "$work/src"

# deb-src twins of the system's Debian entries (deb822 files signed by Debian's archive keyring,
# and one-line entries of sources.list).
for f in /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] && grep -q "debian-archive-keyring" "$f" || continue
  sed -E 's/^Types:.*/Types: deb-src/' "$f" >"$work/sources.list.d/$(basename "$f")"
done
touch "$work/sources.list"
if [ -f /etc/apt/sources.list ]; then
  { grep -E '^deb[[:space:]]' /etc/apt/sources.list | grep -i debian | sed -E 's/^deb[[:space:]]/deb-src /'; } \
    >"$work/sources.list" || true
fi

apt_private=(-o Dir::Etc::SourceList="$work/sources.list" -o Dir::Etc::SourceParts="$work/sources.list.d"
             -o Dir::State::Lists="$work/lists" -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
echo "tsan_tbb: fetching the source of $source_package $version" >&2
apt-get "${apt_private[@]}" update -qq >&2
(cd "$work/src" && apt-get "${apt_private[@]}" source -qq --download-only "$source_package=$version" >&2 &&
  dpkg-source -x ./*.dsc tree >/dev/null 2>&1)  # apt checked the files against the signed index

echo "tsan_tbb: building $source_package with -fsanitize=thread" >&2
cmake -S "$work/src/tree" -B "$work/build" -DCMAKE_CXX_COMPILER=clang++-14 \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTBB_SANITIZE=thread -DTBB_TEST=OFF -DTBB_EXAMPLES=OFF \
  -DTBBMALLOC_BUILD=OFF -DTBB_STRICT=OFF -DCMAKE_INSTALL_PREFIX="$prefix" >/dev/null
cmake --build "$work/build" -j "$(nproc)" >/dev/null
cmake --install "$work/build" --prefix "$work/install" >/dev/null
rm -rf "$prefix"
mv "$work/install" "$prefix"
echo "$prefix"
