#!/usr/bin/env bash
# Set up the two peer tools used by bench/corpus_compare.py, outside the package:
#   .bench/peers-venv  - Python venv with copydetect==0.5.0
#   .bench/dolos       - copy of shared/bench/peers with @dodona/dolos-lib installed (npm)
# Idempotent: re-running reuses what is already there.  `.bench/` is git-ignored.
# Env: PEERS_SRC (default /work/shared/bench/peers, else ../shared/bench/peers), PYTHON (default python3).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH="$ROOT/.bench"
PYTHON="${PYTHON:-python3}"
if [ -z "${PEERS_SRC:-}" ]; then
  for cand in /work/shared/bench/peers "$ROOT/../shared/bench/peers" "$ROOT/shared/bench/peers"; do
    if [ -d "$cand" ]; then PEERS_SRC="$cand"; break; fi
  done
fi
[ -d "${PEERS_SRC:-}" ] || { echo "peer drivers not found; set PEERS_SRC" >&2; exit 2; }
mkdir -p "$BENCH"

# --- copydetect -----------------------------------------------------------
VENV="$BENCH/peers-venv"
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c "import copydetect" 2>/dev/null; then
  "$VENV/bin/pip" install --quiet copydetect==0.5.0
fi
"$VENV/bin/python" -c "import importlib.metadata as m; print('copydetect', m.version('copydetect'))"

# --- Dolos (library; the CLI package is not in the registry) ----------------
DOLOS="$BENCH/dolos"
mkdir -p "$DOLOS"
# copy the drivers (shared/ is read-only, so make the copies writable)
for f in "$PEERS_SRC"/*; do
  install -m 0644 "$f" "$DOLOS/$(basename "$f")"
done
if [ ! -d "$DOLOS/node_modules/@dodona/dolos-lib" ]; then
  (cd "$DOLOS" && npm install --no-audit --no-fund --loglevel=error)
fi
(cd "$DOLOS" && node -e "import('@dodona/dolos-lib').then(m => console.log('dolos-lib', typeof m.Dolos === 'function' ? 'ok' : 'BROKEN'))")
echo "peers ready under $BENCH"
