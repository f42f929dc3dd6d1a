#!/usr/bin/env bash
# The README's run command: install if needed, then become tutor (exec), so Ctrl-C and the
# exit status are tutor's own. Arguments go to `tutor explain`; the default topic is the
# README's example.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${VENV:-$repo/.venv}"
"$repo/scripts/install.sh"
if [[ $# -eq 0 ]]; then
    set -- "Transformers in ML"
fi
exec "$venv/bin/tutor" explain "$@"
