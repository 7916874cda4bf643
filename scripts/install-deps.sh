#!/usr/bin/env bash
# Installs the Debian packages hmr.cpp builds and tests with, when any is missing (run as root,
# or with sudo available). The CUDA toolkit is optional and never installed here: without nvcc
# the build is CPU-only.
set -euo pipefail

packages=(cmake ninja-build g++ libeigen3-dev libgtest-dev libgmock-dev libbenchmark-dev ccache libstb-dev zlib1g-dev)
# --tests: also what some tests use to make PyTorch references at test time (a torchvision
# ResNet-50 checkpoint, `hmr classify` against torchvision's logits); without them those tests skip.
if [[ "${1:-}" == "--tests" ]]; then
  packages+=(python3-torchvision python3-pil)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

sudo=""
[[ $(id -u) -ne 0 ]] && sudo="sudo"
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
