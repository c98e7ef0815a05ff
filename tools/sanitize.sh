#!/usr/bin/env bash
# Build pynn with AddressSanitizer + UndefinedBehaviorSanitizer (CMake option PYNN_SANITIZE) into a directory
# of its own, and run the kernel tests against it, one pytest process per file (a sanitizer report aborts
# the process: the other files still run). Nothing is installed into site-packages.
#
#   tools/sanitize.sh                        build, then test the default kernel test files
#   tools/sanitize.sh tests/test_gemm.py -k avx2   build, then run these pytest arguments (one process)
#   PYNN_SANITIZE_NO_BUILD=1 tools/sanitize.sh ... reuse the last build
#
# PYNN_SANITIZE_TARGET (default /tmp/pynn-sanitize) receives the package, PYNN_SANITIZE_BUILD (default
# /tmp/pynn-sanitize-build) the CMake build tree. Python is not instrumented, so libasan is preloaded;
# detect_leaks=0 since CPython leaks by design; UBSan stops at its first report with a stack trace.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
TARGET=${PYNN_SANITIZE_TARGET:-/tmp/pynn-sanitize}
BUILD=${PYNN_SANITIZE_BUILD:-/tmp/pynn-sanitize-build}
PYTHON=${PYTHON:-python}

if [ -z "${PYNN_SANITIZE_NO_BUILD:-}" ]; then
  "$PYTHON" -m pip install . --no-deps --upgrade --target "$TARGET" -C build-dir="$BUILD" \
    -C cmake.define.PYNN_SANITIZE=ON -C install.strip=false
fi

# libasan must come first in the process. libstdc++ is preloaded with it: python does not link it, and ASan
# resolves the real __cxa_throw when it starts, so without it the first C++ exception aborts with
# "CHECK failed: ... real___cxa_throw != 0".
LIBASAN=$(${CXX:-g++} -print-file-name=libasan.so)
LIBSTDCXX=$(${CXX:-g++} -print-file-name=libstdc++.so.6)
for lib in "$LIBASAN" "$LIBSTDCXX"; do
  [ -f "$lib" ] || { echo "sanitize.sh: $lib not found (${CXX:-g++} -print-file-name)" >&2; exit 2; }
done
export LD_PRELOAD="$LIBASAN:$LIBSTDCXX${LD_PRELOAD:+:$LD_PRELOAD}"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:allocator_may_return_null=1:abort_on_error=1:print_summary=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1:print_summary=1}
export PYTHONPATH="$TARGET${PYTHONPATH:+:$PYTHONPATH}"

# From a neutral directory, so that `import pynn` finds $TARGET and not the source tree.
cd "$TARGET"
"$PYTHON" -c "import pynn, sys; assert pynn._C.__file__.startswith('$TARGET'), pynn._C.__file__; \
print('sanitize.sh: pynn from', pynn._C.__file__, file=sys.stderr)"

if [ $# -gt 0 ]; then
  args=()
  for a in "$@"; do [[ "$a" == tests/* ]] && args+=("$ROOT/$a") || args+=("$a"); done
  exec "$PYTHON" -m pytest -p no:cacheprovider -q "${args[@]}"
fi

FILES=(test_gemm test_conv test_pooling test_recurrent test_dense_chain test_gather_rows test_normalization
       test_activations test_losses test_optimizers test_random test_reduce test_fork)
failed=()
for f in "${FILES[@]}"; do
  [ -f "$ROOT/tests/$f.py" ] || continue
  echo "=== $f"
  if ! "$PYTHON" -m pytest -p no:cacheprovider -q "$ROOT/tests/$f.py"; then failed+=("$f"); fi
done
if [ ${#failed[@]} -gt 0 ]; then echo "sanitize.sh: FAILED: ${failed[*]}"; exit 1; fi
echo "sanitize.sh: all passed"
