#!/usr/bin/env bash
# The Debian packages `npm test` needs besides Node: checked in a few seconds before any test runs. What is missing
# is installed when this runs as root with apt-get (CI, a fresh container); otherwise it stops with the one command
# to run. The one list of them: .ci/run calls this script too.
#   bash scripts/check-system.sh            check, install what is missing when root
#   bash scripts/check-system.sh --check    check only (exit 1 and the command when something is missing)
set -euo pipefail
PY=${PYTHON:-/usr/bin/python3}
CHROMIUM=${CHROMIUM_PATH:-/usr/bin/chromium}

missing() {
  local need=()
  [ -x "$CHROMIUM" ] || need+=(chromium)
  if [ -x "$PY" ]; then
    # One interpreter for every module (importing torch takes a few seconds).
    local out
    out=$("$PY" - <<'EOF' 2>/dev/null || true
import importlib
for pkg, mod in [('python3-torch', 'torch'), ('python3-scipy', 'scipy'), ('python3-numpy', 'numpy'),
                 ('python3-matplotlib', 'matplotlib')]:
    try:
        importlib.import_module(mod)
    except Exception:
        print(pkg)
try:
    from PIL import features
    assert features.check('webp')
except Exception:
    print('python3-pil')
EOF
)
    # shellcheck disable=SC2206
    need+=($out)
  else
    need+=(python3 python3-torch python3-scipy python3-numpy python3-matplotlib python3-pil)
  fi
  compgen -G '/usr/lib/*/libjemalloc.so.2' >/dev/null || [ -e /usr/lib/libjemalloc.so.2 ] || need+=(libjemalloc2)
  [ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
  # the wasm kernels' build (scripts/build-wasm.sh), which a test re-runs
  command -v clang >/dev/null || need+=(clang)
  command -v wasm-ld >/dev/null || need+=(lld)
  echo "${need[@]}"
}

need=$(missing)
[ -z "$need" ] && exit 0
if [ "${1:-}" != "--check" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "check-system: installing $need" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq $need
  still=$(missing)
  if [ -n "$still" ]; then
    echo "check-system: still missing after apt-get install: $still" >&2
    exit 1
  fi
  exit 0
fi
echo "npm test needs Debian packages that are missing; install them with: sudo apt-get install -y $need" >&2
exit 1
