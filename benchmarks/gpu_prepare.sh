#!/usr/bin/env bash
# Stage what benchmarks/gpu_check.py needs on a machine that has jax + CUDA but no package
# registry and no astropy: Python 3.12 manylinux x86-64 wheels of astropy (and its compiled
# dependency pyerfa and its data package), and the TOI-5807 light curves, under .gpu/ (ignored by
# git; name it in the device tool's `carry`).
#
#   benchmarks/gpu_prepare.sh [DATA_DIR]    # DATA_DIR: default $JAXVET_DATA_DIR, else ../shared/data
#
# About 15 MB of wheels and 5 MB of CSV light curves (the sector-83 pixel stamp, 18 MB, only with
# JAXVET_GPU_STAMP=1).
set -euo pipefail
cd "$(dirname "$0")/.."
data="${1:-${JAXVET_DATA_DIR:-../shared/data}}"
mkdir -p .gpu/wheels .gpu/data/tic188646744
python3 -m pip download -q --only-binary=:all: --no-deps --python-version 3.12 \
    --implementation cp --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux_2_28_x86_64 -d .gpu/wheels "astropy>=6.0,<8" "pyerfa>=2.0.1" \
    "astropy-iers-data>=0.2024" "pyyaml>=6"
cp "$data"/tic188646744/sector{55,75,82,83}_pdcsap.csv .gpu/data/tic188646744/
if [[ "${JAXVET_GPU_STAMP:-0}" == 1 ]]; then
    cp "$data"/tic188646744/sector83_tpf.npz .gpu/data/tic188646744/
fi
du -sh .gpu/wheels .gpu/data
ls .gpu/wheels
