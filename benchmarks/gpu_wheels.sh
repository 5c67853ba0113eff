#!/usr/bin/env bash
# Fills .whl/ with what benchmarks/gpu_check.sh needs on a GPU machine that has PyTorch, transformers and
# accelerate but no network and none of diffusers, xformers or imageio-ffmpeg (this workplace's lent machines:
# Python 3.12, torch 2.11). Run here, where pip reaches the registry; keep .whl/ out of git (.git/info/exclude).
#
#     bash benchmarks/gpu_wheels.sh && python benchmarks/tryon_full.py --record examples/person.mp4 \
#         examples/garment_upper_00057_00.jpg .gpu/example.clip
#
# imageio-ffmpeg is repacked without its 165 MB ffmpeg binary: the GPU parts decode no video, they only import the
# package, and the machine takes 64 MiB per call.
set -eu
dest=.whl
mkdir -p "$dest"
download() {
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        -d "$1" "$2"
}
for package in diffusers==0.42.1 importlib_metadata==10.2.0 xformers==0.0.35; do
    download "$dest" "$package"
done
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
download "$scratch" imageio-ffmpeg==0.8.1
(
    cd "$scratch"
    unzip -q imageio_ffmpeg-*.whl
    rm -f imageio_ffmpeg/binaries/ffmpeg-*
    grep -v 'binaries/ffmpeg-' imageio_ffmpeg-*.dist-info/RECORD >RECORD.new
    mv RECORD.new imageio_ffmpeg-*.dist-info/RECORD
    zip -q -r imageio_ffmpeg-0.8.1-py3-none-any.whl imageio_ffmpeg imageio_ffmpeg-*.dist-info
)
mv "$scratch/imageio_ffmpeg-0.8.1-py3-none-any.whl" "$dest/"
ls -l "$dest"
