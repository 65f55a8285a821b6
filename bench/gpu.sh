#!/usr/bin/env bash
# GPU check and bench (issue 13): every PyTorch fixture on every GPU path (ort --device gpu,
# tfjs WebGPU), and forward + taps ms on the CPU and each GPU path in one process, beside
# PyTorch eager (bench/gpuBench.ts, bench/torchRef.py: CUDA where python3's torch sees it).
#
#   bash bench/gpu.sh prepare   here (needs the npm install and Debian's apt): bundles the bench
#                               with the engine into .gpu/, with Node, onnxruntime-node's Linux
#                               build and the Vulkan loader, compressed (what a bare GPU machine
#                               without a package registry needs; about 45 MB)
#   bash bench/gpu.sh run [OUT] on the GPU machine, in the repository root, with .gpu/ beside it:
#                               prints the results and writes OUT/gpu-bench.json
#   bash bench/gpu.sh slim      here, before the call that sends the tree (a lent machine takes at
#                               most 64 MiB, .gpu/ included): git tracks only what the run reads
#                               (the fixtures' safetensors, the ONNX fixtures, the built-in model)
#                               and ignores the rest; the files stay on disk
#   bash bench/gpu.sh unslim    here, after it: the index and .git/info/exclude as they were
# On a machine that has Node and this repo's node_modules, `node .gpu/gpu-bench.mjs` alone does.
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
  prepare)
    rm -rf .gpu && mkdir -p .gpu
    grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
    # tfjs is CommonJS inside: the ESM bundle gets a require.
    npx esbuild bench/gpuBench.ts --bundle --platform=node --format=esm --target=node20 \
      --external:onnxruntime-node --outfile=.gpu/gpu-bench.mjs --log-level=error \
      "--banner:js=import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);"
    ort=node_modules/onnxruntime-node
    # ONNX Runtime's Linux build, and Dawn's (tfjs's WebGPU backend imports the webgpu package at run time).
    XZ_OPT="-9e -T0" tar -cJf .gpu/ort.tar.xz node_modules/onnxruntime-common \
      $ort/package.json $ort/dist $ort/bin/napi-v6/linux/x64 \
      node_modules/webgpu/package.json node_modules/webgpu/index.js node_modules/webgpu/dist/linux-x64
    xz -9e -T0 -c "$(readlink -f "$(command -v node)")" > .gpu/node.xz
    o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
    mkdir -p /tmp/amd64/partial
    apt-get $o update -qq >/dev/null
    # The Vulkan loader, and the GL vendor libraries the NVIDIA Vulkan driver loads through.
    (cd .gpu && apt-get $o download -qq libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 >/dev/null)
    du -sh .gpu
    ;;
  run)
    out="${2:-.}"
    for f in .gpu/*.deb; do dpkg -x "$f" /; done
    ldconfig
    mkdir -p /tmp/gpu-node && xz -dc .gpu/node.xz > /tmp/gpu-node/node && chmod +x /tmp/gpu-node/node
    tar -xJf .gpu/ort.tar.xz -C .gpu
    # The bundle imports onnxruntime-node from .gpu/node_modules (beside it).
    export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp/xdg}"
    mkdir -p "$XDG_RUNTIME_DIR"
    # The NVIDIA Vulkan driver, where the loader does not find it by itself.
    for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do
      [ -f "$icd" ] && export VK_ICD_FILENAMES="$icd" VK_DRIVER_FILES="$icd" && break
    done
    # PyTorch's reference: the first interpreter that imports torch (a lent machine's may not be the first python3).
    for py in "${PYTHON:-}" python3 /opt/*/.venv/bin/python3 /usr/bin/python3; do
      [ -n "$py" ] && "$py" -c 'import torch' 2>/dev/null && export PYTHON="$py" && break
    done
    nvidia-smi --query-gpu=name,driver_version --format=csv,noheader || true
    echo "node $(/tmp/gpu-node/node --version), Vulkan ICD ${VK_ICD_FILENAMES:-none found}"
    shift 2 2>/dev/null || shift $#
    /tmp/gpu-node/node .gpu/gpu-bench.mjs --root "$PWD" --out "$out/gpu-bench.json" "$@"
    ;;
  slim)
    [ -f .git/info/exclude.gpu-slim ] && { echo "already slim: bash bench/gpu.sh unslim first" >&2; exit 2; }
    cp .git/info/exclude .git/info/exclude.gpu-slim
    # The ONNX fixtures left out duplicate mechanisms the ResNet fixtures check on the same paths
    # (and NLSA's sorted export, which tfjs refuses on WebGPU by design).
    git ls-files | grep -E '^(bench/(gpu\.sh|torchRef\.py)|test/fixtures/[^/]+/(case\.json|model\.safetensors|expected\.safetensors)|test/fixtures/keysets/cbam-resnet50-official\.json|test/fixtures/onnx/.*|assets/models/emoji-cbam-nl/.*)$' \
      | grep -v -E 'onnx/(nlsa-resnet|cbam-parallel|cbam-spatial-channel|nl-concat|nl-gaussian)/' > .git/gpu-slim.txt
    git rm -r -q --cached .
    git add -f --pathspec-from-file=.git/gpu-slim.txt
    echo '*' >> .git/info/exclude
    echo "tracked: $(git ls-files -z | xargs -0 cat | wc -c) bytes; .gpu: $(du -cb .gpu | tail -1 | cut -f1) bytes (64 MiB = 67108864)"
    ;;
  unslim)
    git reset -q
    [ -f .git/info/exclude.gpu-slim ] && mv .git/info/exclude.gpu-slim .git/info/exclude
    git status --short | head
    ;;
  *) echo "usage: bash bench/gpu.sh prepare | slim | run [OUT] [--deadline S] | unslim" >&2; exit 2 ;;
esac
