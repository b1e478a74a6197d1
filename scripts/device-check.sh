#!/usr/bin/env bash
# The GPU check: install, run the CUDA tests, then the GPU benchmarks; every figure goes to OUTDIR as JSON,
# a one-screen summary is printed, and the exit status is non-zero when a test or a step failed.
#
#   scripts/device-check.sh OUTDIR               on a machine with a CUDA GPU (sized for <= 8 min on one H100,
#                                                install included)
#   scripts/device-check.sh OUTDIR --cpu-smoke   every step at tiny sizes on the CPU (CI's dry run)
#
# OUTDIR gets: steps.tsv (step, exit status, seconds), cuda-tests.xml (JUnit), bench-models.json,
# bench-models-compile.json, bench-dicefer.json, bench-feed.json, summary.json and logs/<step>.log.
# VENV (default .venv) and PYTHON (default python3.11) are passed on to `make install`.
set -uo pipefail

usage() {
    echo "usage: $0 OUTDIR [--cpu-smoke]" >&2
    exit 2
}
[[ $# -ge 1 && $# -le 2 ]] || usage
OUT=$1
SMOKE=0
if [[ $# -eq 2 ]]; then
    [[ $2 == --cpu-smoke ]] || usage
    SMOKE=1
fi
cd "$(dirname "$0")/.."
mkdir -p "$OUT/logs"
OUT=$(cd "$OUT" && pwd)
: >"$OUT/steps.tsv"
VENV=${VENV:-.venv}
BIN=$VENV/bin
failed=0

# step NAME COMMAND...: run it with its output in logs/NAME.log; record its exit status and duration.
step() {
    local name=$1 start=$SECONDS rc
    shift
    echo "== $name"
    "$@" >"$OUT/logs/$name.log" 2>&1
    rc=$?
    printf '%s\t%s\t%s\n' "$name" "$rc" "$((SECONDS - start))" >>"$OUT/steps.tsv"
    if ((rc != 0)); then
        failed=1
        echo "   FAILED (exit $rc): last lines of $OUT/logs/$name.log"
        tail -n 15 "$OUT/logs/$name.log" | sed 's/^/   | /'
    fi
    return "$rc"
}

step install make install VENV="$VENV" PYTHON="${PYTHON:-python3.11}" || {
    echo "install failed: nothing else can run" >&2
    exit 1
}
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1

if ((SMOKE)); then
    # Tiny sizes on the CPU. The tests: the CUDA cases skip (with their reason) and their CPU twins run.
    device=cpu
    tests=("$BIN/pytest" tests/test_cuda.py -m "")
    models=(--families mvit --img-size 32 --num-frames 8 --batch 2 --quick)
    # Compiling MViT for the CPU (C++ code) takes over 20 minutes on 2 cores: the compiled step takes the
    # small CNN variant through the same path.
    compiled=(--families mobilenetv2 --model-kwargs '{"width_mult": 0.35}' --img-size 32 --num-frames 8 --batch 2
        --quick)
    dicefer=(--params-json '{"dicefer": {"img_size": 32, "code_dim": 8, "classifier_hidden": [16]}}' --batch 4 --quick)
    feed=(--variant ifdd_mvit --img-size 32 --num-frames 8 --batch 4 --workers 2 --quick)
else
    # The issue's sizes: ifdd_mvit vs baseline_mvit at batch 16, 16x224^2, bf16; DICE-FER at 112^2 (the
    # paper's, batch 64); the loader at 16x224^2 with every core as a worker.
    device=cuda
    step gpu "$BIN/python" -c "import torch; assert torch.cuda.is_available(), 'no CUDA device visible (for a \
CPU dry run: --cpu-smoke)'; print(torch.cuda.get_device_name(0), torch.version.cuda)" || exit 1
    tests=("$BIN/pytest" -m cuda)
    models=(--families mvit --img-size 224 --num-frames 16 --batch 16)
    compiled=("${models[@]}")
    dicefer=(--params-json '{"dicefer": {"img_size": 112}}' --batch 64)
    feed=(--variant ifdd_mvit --img-size 224 --num-frames 16 --batch 16 --workers "$(nproc)")
fi

step tests "${tests[@]}" -p no:cacheprovider -rs --junitxml "$OUT/cuda-tests.xml"
step bench-models "$BIN/ferflow" bench models "${models[@]}" --device "$device" --out "$OUT/bench-models.json"
step bench-models-compile "$BIN/ferflow" bench models "${compiled[@]}" --device "$device" --compile --phases train \
    --out "$OUT/bench-models-compile.json"
step bench-dicefer "$BIN/ferflow" bench dicefer "${dicefer[@]}" --device "$device" --out "$OUT/bench-dicefer.json"
step bench-feed "$BIN/ferflow" bench feed "${feed[@]}" --device "$device" --out "$OUT/bench-feed.json"

echo
"$BIN/python" -m ferflow.bench.summary "$OUT" || failed=1
exit "$failed"
