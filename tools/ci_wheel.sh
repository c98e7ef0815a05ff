#!/usr/bin/env bash
# CI for the release wheel: build it (tools/build_wheel.sh: sdist, wheel from the sdist, auditwheel repair),
# install it with its test extra into a fresh virtual environment outside the source tree, then, from outside
# the tree and with only that environment's bin/ on PATH (no compiler), run the test suite (tests/test_wheel.py
# included: it installs the wheel once more, beside scikit-learn and PyTorch) and the README's first command.
#
#   tools/ci_wheel.sh            PYNN_CI_WORK=DIR keeps the wheel, its auditwheel report and the venv in DIR;
#                                PYNN_WHEEL_TESTS="test_a.py test_b.py" runs those files of tests/ instead of all
#                                (.ci/run: the wheel's own checks and the kernel families, since the source
#                                install already ran the whole suite)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PYTHON=${PYTHON:-python3}
WORK=${PYNN_CI_WORK:-$(mktemp -d "${TMPDIR:-/tmp}/pynn-ci-wheel.XXXXXX")}
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
case "$WORK/" in "$ROOT"/*) echo "ci_wheel.sh: PYNN_CI_WORK must be outside $ROOT" >&2; exit 2 ;; esac
start=$SECONDS

tools/build_wheel.sh "$WORK/dist"
WHEEL=$(ls "$WORK"/dist/pynn-*-manylinux_*.whl)

rm -rf "$WORK/venv"
"$PYTHON" -m venv "$WORK/venv"
VPY="$WORK/venv/bin/python"
"$VPY" -m pip install --quiet --disable-pip-version-check --only-binary=:all: "$WHEEL[test]"
# PyTorch is the parity peer of some tests (a local wheel on these machines); they skip without it.
"$VPY" -m pip install --quiet --disable-pip-version-check --only-binary=:all: torch==2.13.0 \
  || echo "ci_wheel.sh: torch==2.13.0 not available: the PyTorch parity tests will skip"

cd "$WORK"
export PATH="$WORK/venv/bin"
unset PYTHONPATH PYNN_ISA CC CXX
"$VPY" -c "import pynn; assert pynn._C.__file__.startswith('$WORK/venv/'), pynn._C.__file__; pynn.show_config()"
TESTS=("$ROOT/tests")
if [ -n "${PYNN_WHEEL_TESTS:-}" ]; then TESTS=(); for t in $PYNN_WHEEL_TESTS; do TESTS+=("$ROOT/tests/$t"); done; fi
PYNN_WHEEL="$WHEEL" "$VPY" -m pytest "${TESTS[@]}" -q -x -p no:cacheprovider

# The README's first command (the install is the wheel's); real MNIST when the shared copy is there.
if [ -d "$ROOT/../shared/data/mnist" ]; then export PYNN_DATA="$ROOT/../shared/data/mnist"; fi
"$VPY" -m pynn.examples.mnist_mlp

echo "ci_wheel.sh: passed in $(( SECONDS - start )) s ($WHEEL)"
