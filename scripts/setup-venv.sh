#!/usr/bin/env bash
# Create the project venv that holds torch; torch-sys links the libtorch inside it
# (LIBTORCH_USE_PYTORCH=1) and build/rpath.rs embeds its lib/ directory.
#
# Usage: scripts/setup-venv.sh VENV_DIR TORCH_VERSION [PYTHON]
# Idempotent: an existing venv whose torch already has TORCH_VERSION is left alone.
# Exit 2 when the system python cannot make a venv (says what to install).
set -euo pipefail

venv=${1:?usage: setup-venv.sh VENV_DIR TORCH_VERSION [PYTHON]}
torch_version=${2:?usage: setup-venv.sh VENV_DIR TORCH_VERSION [PYTHON]}
python=${3:-python3}

# True when the venv's python imports torch at exactly $torch_version (ignoring a
# local tag such as +cu130).
has_torch() {
    [[ -x "$venv/bin/python" ]] &&
        "$venv/bin/python" - "$torch_version" >/dev/null 2>&1 <<'EOF'
import sys
import torch
sys.exit(0 if torch.__version__.split("+")[0] == sys.argv[1] else 1)
EOF
}

if has_torch; then
    echo "==> venv $venv already has torch==$torch_version"
    exit 0
fi

if ! command -v "$python" >/dev/null 2>&1; then
    echo "$python not found: install Python 3 with venv and pip (apt-get install python3 python3-venv python3-pip)" >&2
    exit 2
fi
if ! "$python" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    echo "$python cannot create a venv with pip: apt-get install python3-venv" >&2
    exit 2
fi

if [[ ! -x "$venv/bin/pip" ]]; then
    echo "==> creating venv $venv with $("$python" --version 2>&1)"
    "$python" -m venv "$venv"
fi
if ! "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
    echo "$venv has no working pip: remove $venv, then apt-get install python3-venv python3-pip" >&2
    exit 2
fi

echo "==> creating venv with torch==$torch_version (PyPI wheel with CPU and CUDA kernels, ~4.7 GB download)"
"$venv/bin/python" -m pip install --disable-pip-version-check "torch==$torch_version"

if ! has_torch; then
    echo "torch==$torch_version did not import from $venv after pip install" >&2
    exit 1
fi
echo "==> venv $venv ready: $("$venv/bin/python" -c 'import torch; print("torch", torch.__version__)')"
