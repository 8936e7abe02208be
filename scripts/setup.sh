#!/usr/bin/env bash
# Installs what gridsight needs on Debian 12, idempotently, saying what it does.
# Sourced by scripts/demo and scripts/test; runnable on its own: `scripts/setup.sh`.
# Downloads come only from Debian's archive, PyPI and crates.io.
set -euo pipefail

GRIDSIGHT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Pinned: ONNX Runtime >= 1.23 is required by ort 2.0.0-rc.15 (1.22 crashes in session creation).
ORT_VERSION=1.32.0
# Pinned: the PP-OCRv4 text detector ships inside this PyPI package (Apache-2.0).
RAPIDOCR_VERSION=1.4.4
GRIDSIGHT_DATA_HOME=${XDG_DATA_HOME:-$HOME/.local/share}/gridsight
ORT_DIR=$GRIDSIGHT_DATA_HOME/onnxruntime-$ORT_VERSION
WHEEL_CACHE=$GRIDSIGHT_DATA_HOME/wheels

say() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

DEBIAN_PACKAGES=(
  pkg-config build-essential python3 python3-pip
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstrtspserver-1.0-dev
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-tools gstreamer1.0-x fonts-dejavu-core fonts-wqy-microhei
)

install_debian_packages() {
  local missing=()
  for p in "${DEBIAN_PACKAGES[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    say "Debian packages: all present."
    return
  fi
  say "Debian packages: installing ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

install_rust() {
  if command -v cargo >/dev/null 2>&1; then
    say "Rust: $(cargo --version)."
    return
  fi
  say "Rust: not found. Install it with rustup (https://rustup.rs) and run this again."
  exit 1
}

# Fetches a wheel from PyPI into the cache (no dependencies, nothing installed into Python).
fetch_wheel() {
  local spec=$1
  mkdir -p "$WHEEL_CACHE"
  local name=${spec%%==*}
  local version=${spec##*==}
  local pattern="${name//-/_}-${version}-*.whl"
  if ! compgen -G "$WHEEL_CACHE/$pattern" >/dev/null; then
    say "PyPI: downloading $spec"
    python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$WHEEL_CACHE" "$spec"
  fi
  compgen -G "$WHEEL_CACHE/$pattern" | head -n 1
}

# Extracts one member of a wheel (a zip file) to a destination path.
extract_from_wheel() {
  python3 - "$1" "$2" "$3" <<'PY'
import shutil, sys, zipfile
wheel, member, dest = sys.argv[1:]
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(dest + ".part", "wb") as out:
    shutil.copyfileobj(src, out)
import os
os.replace(dest + ".part", dest)
PY
}

install_onnxruntime() {
  local lib=$ORT_DIR/libonnxruntime.so.$ORT_VERSION
  if [ -f "$lib" ]; then
    say "ONNX Runtime $ORT_VERSION: present at $lib"
  else
    local wheel
    wheel=$(fetch_wheel "onnxruntime==$ORT_VERSION")
    say "ONNX Runtime $ORT_VERSION: extracting the library from $(basename "$wheel")"
    mkdir -p "$ORT_DIR"
    extract_from_wheel "$wheel" "onnxruntime/capi/libonnxruntime.so.$ORT_VERSION" "$lib"
    extract_from_wheel "$wheel" "onnxruntime/capi/libonnxruntime_providers_shared.so" \
      "$ORT_DIR/libonnxruntime_providers_shared.so"
  fi
  # The set-up location the gridsight binary looks at when no flag, variable or config names one.
  ln -sfn "$ORT_DIR" "$GRIDSIGHT_DATA_HOME/onnxruntime"
  ln -sfn "libonnxruntime.so.$ORT_VERSION" "$ORT_DIR/libonnxruntime.so"
  export ORT_DYLIB_PATH=$lib
}

install_text_detector() {
  local dest=$GRIDSIGHT_ROOT/models/ppocr-det/model.onnx
  local want
  want=$(sed -n 's/^sha256 *= *"\([0-9a-f]*\)"/\1/p' "$GRIDSIGHT_ROOT/models/ppocr-det/model.toml")
  if [ -f "$dest" ] && [ "$(sha256sum "$dest" | cut -d' ' -f1)" = "$want" ]; then
    say "Text detector (PP-OCRv4 det): present at models/ppocr-det/model.onnx"
    return
  fi
  local wheel
  wheel=$(fetch_wheel "rapidocr-onnxruntime==$RAPIDOCR_VERSION")
  say "Text detector (PP-OCRv4 det): extracting from $(basename "$wheel")"
  extract_from_wheel "$wheel" "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx" "$dest"
  local got
  got=$(sha256sum "$dest" | cut -d' ' -f1)
  if [ "$got" != "$want" ]; then
    say "Text detector: sha256 $got does not match the manifest ($want)."
    exit 1
  fi
}

# The browser tests' tools: Debian's Chromium, Node.js and npm (when missing), and the pinned
# playwright-core from the npm registry (tests/browser/package-lock.json). Never a browser download.
install_browser_test_tools() {
  local extra=(chromium)
  command -v node >/dev/null 2>&1 || extra+=(nodejs)
  command -v npm >/dev/null 2>&1 || extra+=(npm)
  install_debian_packages "${extra[@]}"
  local dir="$GRIDSIGHT_ROOT/tests/browser"
  local want have
  want=$(sed -n 's/.*"playwright-core": "\([^"]*\)".*/\1/p' "$dir/package.json")
  have=$(sed -n 's/^  "version": "\([^"]*\)".*/\1/p' "$dir/node_modules/playwright-core/package.json" 2>/dev/null || true)
  if [ "$want" = "$have" ]; then
    say "Browser tests: playwright-core $have present; Chromium $(chromium --version 2>/dev/null | awk '{print $2}')."
    return
  fi
  say "npm: installing playwright-core $want for the browser tests (tests/browser/package-lock.json)."
  npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error >/dev/null
}

build_release() {
  say "Building gridsight (release)."
  (cd "$GRIDSIGHT_ROOT" && cargo build --release --locked --quiet)
}

setup_all() {
  install_debian_packages "$@"
  install_rust
  install_onnxruntime
  install_text_detector
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  setup_all
  build_release
  say "Done. ONNX Runtime: $ORT_DYLIB_PATH"
fi
