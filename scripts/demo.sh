#!/usr/bin/env bash
# The main job on the built-in default: the simulator runs the default
# scenario, every topic is recorded to an MCAP bag, and what was published
# (topics, rates, counts) is printed from the recorded bag.
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"
out="out/demo-$(date +%Y%m%d-%H%M%S)"
mkdir -p out
echo "[demo] simulator (scenario mixed_traffic) -> recording all topics to $out"
scripts/env.sh edge-llm-ros sim --scenario "${SCENARIO:-mixed_traffic}" --record "$out" "$@"
echo "[demo] open $out in Foxglove, or replay it: scripts/env.sh edge-llm-ros replay $out"
