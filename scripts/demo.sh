#!/usr/bin/env bash
# The main job on the built-in default: the simulator runs the default
# scenario, the on-board pipeline (camera and lidar detectors, scene fusion)
# runs on it, every topic is recorded to an MCAP bag, and the per-stage
# latency and what was published (topics, rates, counts) are printed. A remote
# planner runs in a third process (as on another host): the vehicle offloads to it
# when the link allows and prints each request's outcome with the link status.
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"
out="out/demo-$(date +%Y%m%d-%H%M%S)"
mkdir -p out
echo "[demo] simulator (scenario ${SCENARIO:-mixed_traffic}) + on-board pipeline + remote planner -> $out"
scripts/env.sh edge-llm-ros sim --scenario "${SCENARIO:-mixed_traffic}" --pipeline --remote \
  --record "$out" "$@"
echo "[demo] picture: $out.png; replay it through the on-board nodes: scripts/env.sh edge-llm-ros replay $out --pipeline --record $out-replay"
