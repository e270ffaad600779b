#!/usr/bin/env bash
# Installs the Debian 12 packages handoff needs to build and test.
#   scripts/deps.sh          build + unit tests + reliability tooling + the neighbours tests' libraries
#   scripts/deps.sh --bench  also plotting and the Go and crossbeam peers (golang-go, cargo, librust-*-dev)
# Exits 0 when everything is present (or was installed), 1 when packages are
# missing and we are not root (the sudo line to run is printed).
set -euo pipefail

packages=(
  build-essential cmake ninja-build clang libclang-rt-14-dev
  libgtest-dev libgmock-dev googletest libbenchmark-dev pkg-config
  relacy-dev spin librapidcheck-dev
  # The libraries users mix handoff with (ctests neighbours_light, neighbours_heavy; Boost.Asio comes with
  # Boost.Fiber's libboost1.74-dev), which are also the benchmark peers.
  libconcurrentqueue-dev libatomic-queue-dev libtbb-dev libboost-fiber-dev libboost-context-dev
  # Standalone asio 1.22: handoff/asio_token.hpp's test (asio_token_test) and the coroutine benchmark's peer.
  libasio-dev
)

for arg in "$@"; do
  case "$arg" in
    --bench)
      # Plotting, and the Go and crossbeam-channel peers (bench/go, bench/crossbeam, built offline; libc is a
      # dependency of bench/crossbeam). Not on the test path (scripts/test.sh runs deps.sh without --bench).
      packages+=(gnuplot-nox golang-go librust-crossbeam-channel-dev librust-libc-dev)
      # Debian's cargo and rustc (the toolchain its crates are packaged for) unless a cargo is already there.
      [[ -x /usr/bin/cargo ]] || packages+=(cargo rustc) ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "deps: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "deps: dpkg-query not found; this script supports Debian/Ubuntu only." >&2
  echo "deps: needed: ${packages[*]}" >&2
  exit 1
fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "installed" ]] || missing+=("$p")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "deps: all present"
  exit 0
fi

if [[ $(id -u) -eq 0 ]]; then
  echo "deps: installing: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "deps: missing packages; run:"
  echo "sudo apt-get install -y ${missing[*]}"
  exit 1
fi
