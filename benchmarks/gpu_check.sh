#!/usr/bin/env bash
# The GPU check (see benchmarks/gpu_check.py): one table of tokens/s, MFU, peak memory and
# bf16/fp32 parity for tiny…base, plus a one-GPU torchrun run. Nothing is downloaded.
#   bash benchmarks/gpu_check.sh            # on a GPU, under 8 minutes
#   bash benchmarks/gpu_check.sh --dry-run  # on CPU, a few steps: checks the flow (CI)
set -euo pipefail
cd "$(dirname "$0")/.."
exec "${PYTHON:-python}" benchmarks/gpu_check.py "$@"
