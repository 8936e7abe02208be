#!/usr/bin/env bash
# Trains gridsight's street-v1 detector from a clean clone (CPU only, no GPU, PyPI only).
#
#   models/train/train.sh                      # the recipe: generate scenes, then train
#   models/train/train.sh DATA_DIR [DATA_DIR ...] [-- extra options for gridsight_train.train]
#
# With no DATA_DIR it builds gridsight, renders the training set (160 scenes × 8 frames, seeds
# 1000–1159, even object variants) and the held-out set (40 scenes × 8 frames, seeds
# 900000–900039, odd variants) into models/train/data/, and trains on them with --val.
#
# DATA_DIR: YOLO folders (images/ + labels/, with or without train/ val/ splits). The facade-signs
# photos at $FACADE_DIR (default /work/shared/data/facade-signs) are added when present
# (set FACADE_DIR=none to leave them out). Output: $OUT (default models/train/runs/street-v1):
# model.onnx, metrics.json, checkpoint.npz.  Env: PYTHON (default python3.11 or python3), STEPS.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$HERE/.venv"
PY="${PYTHON:-$(command -v python3.11 || command -v python3)}"
OUT="${OUT:-$HERE/runs/street-v1}"
ROOT="$(cd "$HERE/../.." && pwd)"
FACADE_DIR="${FACADE_DIR:-$ROOT/../shared/data/facade-signs}"

DATA=(); EXTRA=()
while [ $# -gt 0 ]; do
  case "$1" in
    --) shift; EXTRA=("$@"); break ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) DATA+=(--data "$1"); shift ;;
  esac
done
if [ "${#DATA[@]}" -eq 0 ]; then
  GEN="$HERE/data"
  if [ ! -f "$GEN/.complete" ]; then
    echo "== building gridsight and rendering the scenes into $GEN ..."
    (cd "$ROOT" && cargo build --release --locked --quiet)
    rm -rf "$GEN"
    "$ROOT/target/release/gridsight" synth "$GEN/train" --dataset 160 --frames-per-scene 8 \
      --seconds 60 --split train --seed 1000
    "$ROOT/target/release/gridsight" synth "$GEN/heldout" --dataset 40 --frames-per-scene 8 \
      --seconds 60 --split held-out --seed 900000
    touch "$GEN/.complete"
  fi
  DATA=(--data "$GEN/train")
  EXTRA=(--val "$GEN/heldout" "${EXTRA[@]}")
fi

if [ ! -x "$VENV/bin/python" ] || ! cmp -s "$HERE/requirements.txt" "$VENV/.requirements.txt"; then
  echo "== creating $VENV (pinned CPU packages from PyPI) ..."
  "$PY" -m venv "$VENV"
  if "$VENV/bin/python" -c 'import sys,platform; sys.exit(0 if sys.version_info[:2]==(3,11) and platform.machine()=="x86_64" and sys.platform=="linux" else 1)'; then
    "$VENV/bin/pip" install -q --require-hashes --only-binary=:all: -r "$HERE/requirements.txt"
  else
    echo "   (not CPython 3.11 / Linux x86_64: installing the same pins without hashes)"
    grep -v -- '--hash' "$HERE/requirements.txt" | sed 's/ \\$//' > "$VENV/req-nohash.txt"
    "$VENV/bin/pip" install -q --only-binary=:all: -r "$VENV/req-nohash.txt"
  fi
  cp "$HERE/requirements.txt" "$VENV/.requirements.txt"
fi

FAC=()
if [ "$FACADE_DIR" = none ] || [ ! -d "$FACADE_DIR" ]; then FAC=(--no-facade); else FAC=(--facade "$FACADE_DIR"); fi
STEPS_ARG=(); [ -n "${STEPS:-}" ] && STEPS_ARG=(--steps "$STEPS")
cd "$HERE"
exec "$VENV/bin/python" -u -m gridsight_train.train "${DATA[@]}" "${FAC[@]}" --out "$OUT" "${STEPS_ARG[@]}" "${EXTRA[@]}"
