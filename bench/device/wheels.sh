#!/usr/bin/env bash
# Fill .whl/ with what a GPU machine without network needs beyond PyTorch, transformers, peft and
# accelerate (already in such images): bitsandbytes for qlora, Hydra and OmegaConf for sumexp's config.
# Versions are those the tests ran with. Run on a machine with pip and PyPI, then send .whl/ along
# with the repository and run bench/device/check.sh there.
#   PYTHON_VERSION=3.12 bash bench/device/wheels.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-python3}
PYTHON_VERSION=${PYTHON_VERSION:-3.12}  # the GPU machine's Python, not this one's
mkdir -p .whl
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version "$PYTHON_VERSION" --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -d .whl bitsandbytes==0.50.2 hydra-core==1.3.8 omegaconf==2.3.1
# Hydra's parser runtime is published only as a source archive; it is pure Python, so build its wheel here.
"$PY" -m pip wheel -q --no-deps -w .whl antlr4-python3-runtime==4.9.3
ls -la .whl
du -sh .whl
