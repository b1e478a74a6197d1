#!/usr/bin/env bash
# Install what ferflow needs on a Debian/Ubuntu machine: system libraries (apt, only those missing), then a
# virtual environment with the package and its test tools. Safe to run again.
set -euo pipefail

PYTHON=${PYTHON:-python3.11}
VENV=${VENV:-.venv}
# WeasyPrint renders the PDF report through Pango; DejaVu gives it fonts; git is needed by DVC.
APT_PACKAGES=(libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core git)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
    echo "bootstrap: installing system packages: ${missing[*]}"
    sudo=""
    [[ $(id -u) -eq 0 ]] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! command -v "$PYTHON" >/dev/null; then
    echo "bootstrap: $PYTHON not found; ferflow needs Python 3.11 (set PYTHON=/path/to/python3.11)" >&2
    exit 1
fi
[[ -x "$VENV/bin/python" ]] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
# torch/torchvision are pinned in pyproject.toml (2.14.1 / 0.29.1).
"$VENV/bin/python" -m pip install --quiet -e ".[dev]"
echo "bootstrap: ready ($("$VENV/bin/python" -c 'import ferflow, torch; print("ferflow", ferflow.__version__, "torch", torch.__version__)'))"
