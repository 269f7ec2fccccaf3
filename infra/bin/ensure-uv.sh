#!/usr/bin/env bash
# Installs uv (the project's environment and lock-file tool) with pip when it is missing, so that
# `make up` and `make test` work on a fresh machine. The Makefile puts ~/.local/bin on the PATH.
set -euo pipefail
TAG=uv
# shellcheck source=infra/bin/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

command -v uv >/dev/null && exit 0
say "uv not found; installing it with pip (python3 -m pip install --user uv)"
# Debian's python refuses pip installs outside a virtualenv (PEP 668) unless told otherwise.
python3 -m pip install -q --user uv 2>/dev/null ||
  python3 -m pip install -q --user --break-system-packages uv ||
  die "could not install uv with pip; install it (https://docs.astral.sh/uv/) and run again"
PATH="$HOME/.local/bin:$PATH" command -v uv >/dev/null || die "uv installed but not found on PATH"
say "installed $(PATH="$HOME/.local/bin:$PATH" uv --version)"
