#!/usr/bin/env bash
# Run a command inside the project's environment (venv + colcon install):
#   scripts/env.sh edge-llm-ros sim --list
set -eo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck disable=SC1091
source "$repo_root/.venv/bin/activate"
# shellcheck disable=SC1091
source "$repo_root/install/setup.bash"
export MUJOCO_GL="${MUJOCO_GL:-egl}"
exec "$@"
