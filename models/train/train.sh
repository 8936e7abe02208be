#!/usr/bin/env bash
# Trains gridsight's street-v1 detector from a clean clone (PyPI only; JAX on CPU, or on a GPU).
#
#   models/train/train.sh                      # the recipe: generate scenes, then train
#   models/train/train.sh DATA_DIR [DATA_DIR ...] [-- extra options for gridsight_train.train]
#
# With no DATA_DIR it builds gridsight, renders the training set (1280 scenes x 4 frames, 3-6
# scripted objects each, seeds 1000-2279, even object variants, half of the objects in colours drawn
# per object) and the held-out set (40 scenes x 8 frames, seeds 900000-900039, odd variants, as
# gridsight eval draws them) into models/train/data/, and trains on them with --val (640x640 crops,
# batch 32, 3000 steps, the network at width 1.5, any hue on half the images: RECIPE below).
#
# DATA_DIR: YOLO folders (images/ + labels/, with or without train/ val/ splits). The facade-signs
# photos at $FACADE_DIR (default ../shared/data/facade-signs) are added when present
# (FACADE_DIR=none leaves them out). Output: $OUT (default models/train/runs/street-v1):
# model.onnx, metrics.json, checkpoint.npz.
# Env: STEPS; TRAIN_SCENES, HELDOUT_SCENES (defaults 1280, 40); COLOUR_SHARE (synth --colour-share
# of the training scenes, default 0.5); JOBS (render processes, default: CPUs); GRIDSIGHT (a built
# gridsight binary: skips the cargo build); TRAIN_PYTHON (an existing Python with jax, numpy,
# pillow, onnx and onnxruntime, e.g. one with jax's CUDA plugin: skips the pinned CPU venv);
# PYTHON (for the venv).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$HERE/.venv"
PY="${PYTHON:-$(command -v python3.11 || command -v python3)}"
OUT="${OUT:-$HERE/runs/street-v1}"
ROOT="$(cd "$HERE/../.." && pwd)"
FACADE_DIR="${FACADE_DIR:-$ROOT/../shared/data/facade-signs}"

# The recipe's own options (generated scenes only): options after -- and STEPS come later and win.
RECIPE=(--steps 3000 --width 1.5 --hue-jitter 3.1416 --hue-share 0.5)

DATA=(); EXTRA=(); OWN=()
while [ $# -gt 0 ]; do
  case "$1" in
    --) shift; EXTRA=("$@"); break ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) DATA+=(--data "$1"); shift ;;
  esac
done
if [ "${#DATA[@]}" -eq 0 ]; then
  GEN="$HERE/data"
  RENDERED="train ${TRAIN_SCENES:-1280} colour-share ${COLOUR_SHARE:-0.5}, held-out ${HELDOUT_SCENES:-40}"
  if [ ! -f "$GEN/.complete" ] || [ "$(cat "$GEN/.complete")" != "$RENDERED" ]; then
    GS="${GRIDSIGHT:-}"
    if [ -z "$GS" ]; then
      echo "== building gridsight ..."
      (cd "$ROOT" && cargo build --release --locked --quiet)
      GS="$ROOT/target/release/gridsight"
    fi
    JOBS="${JOBS:-$(nproc)}"
    echo "== rendering the scenes into $GEN with $JOBS processes ..."
    rm -rf "$GEN"
    # render SCENES scenes from FIRST_SEED on, in $JOBS seed ranges side by side (same files
    # whatever JOBS is: each image is named by its scene's seed)
    render() {
      local dir="$1" scenes="$2" seed="$3"; shift 3
      local per=$(( (scenes + JOBS - 1) / JOBS )) k=0 pids=()
      while [ $k -lt "$scenes" ]; do
        local n=$(( scenes - k < per ? scenes - k : per ))
        "$GS" synth "$dir" --dataset "$n" --seed $(( seed + k )) --seconds 60 "$@" >/dev/null 2>&1 &
        pids+=($!); k=$(( k + n ))
      done
      for p in "${pids[@]}"; do wait "$p" || { echo "rendering into $dir failed (rerun: $GS synth $dir --dataset ...)" >&2; exit 1; }; done
    }
    render "$GEN/train" "${TRAIN_SCENES:-1280}" 1000 --frames-per-scene 4 --events 3-6 --split train \
      --colour-share "${COLOUR_SHARE:-0.5}"
    render "$GEN/heldout" "${HELDOUT_SCENES:-40}" 900000 --frames-per-scene 8 --split held-out
    echo "   $(ls "$GEN/train/images" | wc -l) training images, $(ls "$GEN/heldout/images" | wc -l) held-out images"
    echo "$RENDERED" > "$GEN/.complete"
  fi
  DATA=(--data "$GEN/train")
  EXTRA=(--val "$GEN/heldout" "${EXTRA[@]}")
  OWN=("${RECIPE[@]}")
fi

if [ -n "${TRAIN_PYTHON:-}" ]; then
  PYBIN="$TRAIN_PYTHON"
  echo "== using $PYBIN (TRAIN_PYTHON) instead of the pinned CPU venv"
else
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
  PYBIN="$VENV/bin/python"
fi

FAC=()
if [ "$FACADE_DIR" = none ] || [ ! -d "$FACADE_DIR" ]; then FAC=(--no-facade); else FAC=(--facade "$FACADE_DIR"); fi
STEPS_ARG=(); [ -n "${STEPS:-}" ] && STEPS_ARG=(--steps "$STEPS")
cd "$HERE"
exec "$PYBIN" -u -m gridsight_train.train "${DATA[@]}" "${FAC[@]}" --out "$OUT" "${OWN[@]}" "${STEPS_ARG[@]}" "${EXTRA[@]}"
