#!/bin/sh
# Rebuild the built-in model from nothing: scenes, training, export, evaluation.
#   sh tools/build_model.sh            (57 minutes measured on 2 shared CPU cores)
# Needs Debian packages: python3-torch python3-torchvision python3-skimage python3-pil
# fonts-noto-color-emoji plasma-workspace-wallpapers mate-backgrounds.
# Uses /usr/bin/python3 on purpose: Debian's torch lives there, not in a pyenv/venv.
set -eu
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
PKGS="python3-torch python3-torchvision python3-skimage python3-pil fonts-noto-color-emoji plasma-workspace-wallpapers mate-backgrounds"
MISSING=""
for p in $PKGS; do dpkg -s "$p" >/dev/null 2>&1 || MISSING="$MISSING $p"; done
if [ -n "$MISSING" ]; then
  SUDO=""; [ "$(id -u)" = "0" ] || SUDO=sudo
  $SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q $MISSING
fi
MODEL=assets/models/emoji-cbam-nl

$PY tools/dataset/generate.py --out tools/data/scenes
# Phase 1: torchvision strides (output stride 32), the cheap network: 12 epochs.
$PY tools/train.py --data tools/data/scenes --strides 1,2,2,2 --epochs 12 \
  --checkpoint tools/data/checkpoint_s32.pt --no-export
# Phase 2: the shipped strides (layer3 at stride 1, 16x16 maps), fine-tuned from phase 1.
$PY tools/train.py --data tools/data/scenes --init tools/data/checkpoint_s32.pt --epochs 2 --lr 0.02 \
  --append-log
$PY tools/dataset/licenses.py "$MODEL/LICENSES.md"
$PY tools/evaluate_torch.py --data tools/data/scenes --out tools/eval_torch.json
# The engine-side evaluation (the figures the model card reports) needs the built bundles.
if [ -d node_modules ]; then
  npm run bench:localisation || echo "engine-side evaluation failed; the card keeps the PyTorch figures"
else
  echo "npm ci, then 'npm run bench:localisation' for the engine-side figures"
fi
$PY tools/write_model_card.py
