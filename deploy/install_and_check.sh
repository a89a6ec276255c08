#!/usr/bin/env bash
# Install spikefit the way users get it, from a wheel, and check the installed command line.
# deploy/Dockerfile runs it to build the image; tests/test_packaging.py runs it on a fresh
# virtual environment, so the image and the test take the same steps.
#
#   deploy/install_and_check.sh SRC_DIR     # build the wheel from a source tree, then as below
#   deploy/install_and_check.sh WHEEL       # install spikefit-<version>-py3-none-any.whl
#
# Steps: `pip wheel --no-deps` of a clean copy of SRC_DIR's pyproject.toml, README.md, fitter/
# and models/ (source tree only), `pip install WHEEL`, then from an
# empty folder: the imported spikefit is the installed one (not SRC_DIR), `spikefit --help`, and
# `spikefit inspect` of the example shipped in the package finds its 32 sweeps.
#
# Environment:
#   PYTHON            interpreter to install into (default: python3)
#   PIP_INSTALL_ARGS  extra `pip install` arguments, e.g. --no-deps where the dependencies are
#                     already importable (the test's fresh venv)
#   WHEEL_DIR         where the built wheel goes (default: a new temporary folder)
set -euo pipefail

usage="usage: $0 SRC_DIR|WHEEL"
die() { echo "install_and_check: $*" >&2; exit 1; }
[ $# -eq 1 ] || die "$usage"
PYTHON=$("${PYTHON:-python3}" -c 'import sys; print(sys.executable)')  # absolute: we cd below
read -r -a pip_args <<< "${PIP_INSTALL_ARGS:-}"

# An absolute path: pip reads a bare name such as `src` as a package on the index.
given=$1
[ -e "$given" ] || die "$usage: expected a source folder or a .whl file, got $given (not found)"
target=$(cd "$(dirname "$given")" && pwd)/$(basename "$given")

made=()
trap 'rm -rf ${made[@]+"${made[@]}"}' EXIT
if [ -d "$target" ]; then
  if [ -n "${WHEEL_DIR:-}" ]; then
    wheel_dir=$WHEEL_DIR
    mkdir -p "$wheel_dir"
  else
    wheel_dir=$(mktemp -d)
    made+=("$wheel_dir")
  fi
  # Build from a clean copy of what the wheel is made of: leftovers of earlier builds (build/)
  # never end up in the wheel, and the source tree stays untouched.
  build_src=$(mktemp -d)
  made+=("$build_src")
  for item in pyproject.toml README.md fitter models; do
    [ -e "$target/$item" ] || die "$given: expected a spikefit source tree (pyproject.toml README.md fitter/ models/), got no $item there"
    cp -R "$target/$item" "$build_src/"
  done
  find "$build_src" -name __pycache__ -prune -exec rm -rf {} +
  "$PYTHON" -m pip wheel --quiet --no-deps --wheel-dir "$wheel_dir" "$build_src"
  wheels=("$wheel_dir"/spikefit-*.whl)
  [ ${#wheels[@]} -eq 1 ] && [ -f "${wheels[0]}" ] \
    || die "expected one spikefit wheel in $wheel_dir, got: ${wheels[*]}"
  wheel=${wheels[0]}
elif [[ -f "$target" && "$target" == *.whl ]]; then
  wheel=$target
else
  die "$usage: expected a source folder or a .whl file, got $given"
fi

"$PYTHON" -m pip install --quiet ${pip_args[@]+"${pip_args[@]}"} "$wheel"

scripts=$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
site=$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
check_dir=$(mktemp -d)
made+=("$check_dir")
cd "$check_dir"  # nothing of a checkout is importable from here

location=$("$PYTHON" -c 'import spikefit; print(spikefit.__file__)')
[ "$location" = "$site/spikefit/__init__.py" ] \
  || die "import spikefit: expected the installed wheel ($site/spikefit), got $location"
"$scripts/spikefit" --help > /dev/null
example=$("$PYTHON" -c 'from spikefit.examples import example_path; print(example_path())')
sweeps=$("$scripts/spikefit" inspect --json "$example" \
  | "$PYTHON" -c 'import json, sys; print(len(json.load(sys.stdin)))')
[ "$sweeps" -eq 32 ] || die "spikefit inspect $example: expected 32 sweeps, got $sweeps"

echo "installed $(basename "$wheel") -> $(dirname "$location")"
echo "spikefit inspect (shipped example): $sweeps sweeps in $example"
