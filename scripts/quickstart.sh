#!/usr/bin/env bash
# README's first command: installs what is missing, builds `hmr`, makes the synthetic dataset,
# trains the small CPU setting (configs/cpu_small.json: ResNet-18 on 64-px crops), evaluates it
# on the held-out test split beside the mean-pose baseline, and runs the demo. Each stage is
# skipped when its output exists (delete data/synth or runs/hmr to redo it).
#   TRAIN_COUNT, HELDOUT_COUNT, STEPS may be set in the environment.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bash scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DHMR_BENCH=OFF >/dev/null
cmake --build build -j "$(nproc)" --target hmr
hmr=build/hmr/hmr

train_count=${TRAIN_COUNT:-2000}
heldout_count=${HELDOUT_COUNT:-200}
if [[ ! -f data/synth/synth_train.npz ]]; then
  echo "== synthetic data: $train_count train, $heldout_count val, $heldout_count test images (128 px)"
  $hmr data synth --out data/synth --split train --count "$train_count" --res 128
  $hmr data synth --out data/synth --split val --count "$heldout_count" --res 128
  $hmr data synth --out data/synth --split test --count "$heldout_count" --res 128
fi
if [[ ! -f runs/hmr/checkpoint.safetensors ]]; then
  echo "== training (configs/cpu_small.json)"
  $hmr train hmr --config configs/cpu_small.json --out runs/hmr ${STEPS:+--steps $STEPS}
fi
echo "== evaluation on the held-out test split"
$hmr eval --checkpoint runs/hmr/checkpoint.safetensors --dataset data/synth/synth_test.npz
echo "== demo"
$hmr demo --checkpoint runs/hmr/checkpoint.safetensors --out runs/hmr/demo
echo "pictures: runs/hmr/loss.png (training curves), runs/hmr/demo/overlay.png (mesh over a test image | side view)"
