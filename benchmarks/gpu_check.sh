#!/usr/bin/env bash
# DPIDM's GPU figures in one run, for a lent CUDA machine with no network (issue 22). From the repository root:
#
#     bash benchmarks/gpu_check.sh OUTDIR [PART ...]      # all parts, or those named, in the order below
#
# Several calls with a few parts each bring some figures back even when a machine is lost in the middle of one.
# Wheels in .whl/ (what the machine lacks: diffusers, xformers) are installed first, then this tree (`pip install
# -e . --no-deps`). Then, each part under its own time limit so that one failure leaves the others' figures:
#   train       the paper's training step at sd15 (512x384, T=24, batch 2, bf16, gradient checkpointing, chunked
#               TRA), image and video, time and peak memory next to the pre-flight estimate (train_step.py)
#   train_nockpt  the video step without gradient checkpointing (the estimate's other calibration point)
#   tryon       30 DDIM steps, guidance 1.5, 512x384, 24/8 windows, fp16 and bf16 x SDPA and xformers: seconds per
#               output frame and peak memory, on synthetic windows and on the shipped example's recorded clip
#               (.gpu/example.clip, made here by `python benchmarks/tryon_full.py --record examples/person.mp4
#               examples/garment_upper_00057_00.jpg .gpu/example.clip`)
#   tests       the tests marked gpu
# Every part's log is OUTDIR/PART.log (its last line is JSON, except the tests'); OUTDIR/summary.txt lists each part's
# exit code and seconds, and the script ends by printing each log's last line. About 5 minutes on one H100.
set -u
out=${1:?usage: bash benchmarks/gpu_check.sh OUTDIR [PART ...]}
shift
parts=" ${*:-train train_nockpt tryon tests} "
mkdir -p "$out"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
python=${PYTHON:-python3}

setup() {
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
    $python -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)"
    if compgen -G ".whl/*.whl" >/dev/null; then
        $python -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl || return 1
        export PYTHONPATH=/tmp/site
    fi
    $python -m pip install -q --no-index --no-deps --no-build-isolation -e . || return 1
    $python -c "import diffusers, transformers, tryon_cli; print('diffusers', diffusers.__version__, 'transformers', transformers.__version__, 'dpidm', tryon_cli.__version__)"
}
setup >"$out/setup.log" 2>&1 || { echo "setup failed:"; tail -20 "$out/setup.log"; exit 1; }
cat "$out/setup.log"

part() {  # part NAME SECONDS COMMAND...: runs it if NAME was asked for
    local name=$1 limit=$2
    shift 2
    [[ $parts == *" $name "* ]] || return 0
    local began=$SECONDS
    timeout "$limit" "$@" >"$out/$name.log" 2>&1
    local code=$?
    echo "$name: exit $code in $((SECONDS - began)) s" | tee -a "$out/summary.txt"
}

paper=(--model sd15 --set train.mixed_precision=bf16 --set train.gradient_checkpointing=true)
part train 120 $python benchmarks/train_step.py "${paper[@]}" --steps 3
part train_nockpt 75 $python benchmarks/train_step.py --model sd15 --set train.mixed_precision=bf16 \
    --phases video --steps 2
part tryon 150 $python benchmarks/tryon_full.py --clip .gpu/example.clip
part tests 60 $python -m pytest -q -p no:cacheprovider -m gpu -rs tests/test_models.py
for name in $parts; do
    echo "== $name"
    tail -n 1 "$out/$name.log"
done
