#!/usr/bin/env bash
# Runs the decoder trainer with the CPU settings measured on the 2-core machines (training/README.md):
#   - jemalloc preloaded and keeping its pages (LD_PRELOAD + MALLOC_CONF), when libjemalloc2 is installed;
#   - OPENBLAS_THREAD_TIMEOUT=4 and OMP_WAIT_POLICY=PASSIVE (no spinning thread pools fighting each other);
#   - OPENBLAS_CORETYPE from the CPU flags (OpenBLAS's own detection fell back to SSE3 kernels here: 2.7x slower).
# Without these the same steps took 1.25-2x longer on the 2-core machines. Harmless on GPU machines.
#
#   bash scripts/train.sh --preset web --variant lors --features F --annotations A ... --out RUN
#   NPROC=2 bash scripts/train.sh ...      # torchrun with 2 processes (gloo on CPU, nccl on GPU)
# Any setting can be overridden from the environment (e.g. MALLOC_CONF=..., JEMALLOC=/path/libjemalloc.so.2,
# JEMALLOC=none to skip it, PYTHON=/usr/bin/python3).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-/usr/bin/python3}

if [ -z "${JEMALLOC:-}" ]; then
  for f in /usr/lib/x86_64-linux-gnu/libjemalloc.so.2 /usr/lib/aarch64-linux-gnu/libjemalloc.so.2 /usr/lib/libjemalloc.so.2 /usr/lib64/libjemalloc.so.2; do
    if [ -f "$f" ]; then JEMALLOC=$f; break; fi
  done
fi
if [ -n "${JEMALLOC:-}" ] && [ "$JEMALLOC" != none ] && [ -f "$JEMALLOC" ]; then
  case ":${LD_PRELOAD:-}:" in
    *jemalloc*) ;;
    *) export LD_PRELOAD="$JEMALLOC${LD_PRELOAD:+:$LD_PRELOAD}" ;;
  esac
  export MALLOC_CONF=${MALLOC_CONF:-background_thread:false,dirty_decay_ms:-1,muzzy_decay_ms:-1}
fi
export OPENBLAS_THREAD_TIMEOUT=${OPENBLAS_THREAD_TIMEOUT:-4}
# Debian's OpenBLAS picks its kernels by CPU detection, which falls back to the SSE3 "Prescott" kernels on these
# virtual machines (perf: sgemm_kernel_PRESCOTT). Naming the core type the CPU flags allow made a [400,128]x[128,12288]
# sgemm 2.7x faster here (51 -> 18-19 ms, 1 thread). Override with OPENBLAS_CORETYPE=... (or empty to keep detection).
if [ -z "${OPENBLAS_CORETYPE+x}" ] && [ -r /proc/cpuinfo ]; then
  if grep -qw avx512f /proc/cpuinfo; then export OPENBLAS_CORETYPE=SkylakeX
  elif grep -qw avx2 /proc/cpuinfo; then export OPENBLAS_CORETYPE=Haswell
  fi
fi
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

NPROC=${NPROC:-1}
if [ "$NPROC" -gt 1 ]; then
  # --redirects/--tee 2: torch 1.13 on Python 3.11 cannot parse their default '0'; '2' works on every version.
  LOGDIR=${TORCHRUN_LOG_DIR:-$(mktemp -d)}
  exec "$PY" -m torch.distributed.run --nproc_per_node "$NPROC" --nnodes 1 --master_addr 127.0.0.1 \
    --master_port "${MASTER_PORT:-29517}" --redirects 2 --tee 2 --log_dir "$LOGDIR" \
    -m training.lors_studio.train "$@"
fi
exec "$PY" -m training.lors_studio.train "$@"
