#!/usr/bin/env bash
# The GPU checks, as one script for a short loan of a GPU machine (about 10 minutes of work):
#   1. bench/backends.py on the Qwen2.5-0.5B and KoBART shapes: peak memory, tokens/s and MFU of
#      full, lora and qlora (unsloth too when it is installed), with ratios to full;
#   2. one short sumexp run per backend on a tiny model (bf16 where the GPU has it), to see the run path on CUDA.
# Results go to $OUT (a folder; default: a new temporary one): backends.txt, the run folders'
# metrics.json as run_<backend>.json, and check.log.
#   bash bench/device/wheels.sh                     # first, where PyPI is reachable: fills .whl/
#   OUT=/some/dir bash bench/device/check.sh        # then on the GPU machine
# DEVICE=cpu TINY=1 PYTHON=.venv/bin/python runs the same steps on a CPU, small, to check the script.
set -uo pipefail
cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-python3}
DEVICE=${DEVICE:-cuda}
OUT=${OUT:-$(mktemp -d)}
BACKENDS=${BACKENDS:-full,lora,qlora}
mkdir -p "$OUT"
exec > >(tee "$OUT/check.log") 2>&1

if compgen -G ".whl/*.whl" >/dev/null; then  # packages the machine lacks, carried as wheels
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/sumexp-site .whl/*.whl \
        || { echo "check.sh: installing .whl/ failed"; exit 1; }
    export PYTHONPATH="/tmp/sumexp-site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
if "$PYTHON" -c "import unsloth" >/dev/null 2>&1; then
    BACKENDS="$BACKENDS,unsloth"
fi
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
"$PYTHON" -c "import torch, transformers, peft; print('torch', torch.__version__, 'transformers', transformers.__version__, 'peft', peft.__version__)"

status=0
tiny=()
[ -n "${TINY:-}" ] && tiny=(--tiny)
echo "== bench/backends.py --device $DEVICE --backends $BACKENDS ${tiny[*]}"
"$PYTHON" bench/backends.py --device "$DEVICE" --backends "$BACKENDS" --timeout "${TIMEOUT:-240}" "${tiny[@]}" | tee "$OUT/backends.txt" || status=1

for backend in ${BACKENDS//,/ }; do
    model=tiny_llama  # a causal model: every backend serves it, unsloth included
    echo "== python -m sumexp model=$model backend=$backend"  # precision auto: bf16 on a GPU that has it
    "$PYTHON" -m sumexp model=$model backend=$backend optim.max_steps=40 \
        data.max_eval_samples=16 generation.num_beams=1 score.tokenizer=whitespace cache_dir=null force=true \
        "hydra.run.dir=/tmp/sumexp-check/$backend" || status=1
    cp "/tmp/sumexp-check/$backend/metrics.json" "$OUT/run_$backend.json" 2>/dev/null || status=1
done
echo "check.sh: done, status $status; results in $OUT"
exit $status
