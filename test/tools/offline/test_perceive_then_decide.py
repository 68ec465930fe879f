"""`perceive -o` writes a scene `decide` reads: one scene codec (reasoning/scene_io.py).

Runs the real command line on the real KITTI frame (skips without ../shared/data/kitti):
the fused scene's cars that never close in have an infinite time-to-collision, which
the file must carry in a form `decide` takes back.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

from edge_llm_ros.reasoning.scene_io import load_scene_file, scene_to_dict
from edge_llm_ros.types import EgoState, SceneSummary, TrackedObject

REPO = Path(__file__).resolve().parents[3]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "edge_llm_ros.tools.cli", *args],
                          capture_output=True, text=True, timeout=600, cwd=REPO)


def test_perceive_output_is_a_scene_decide_reads(kitti_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "perceived.json"
    run = _cli("perceive", "--image", str(kitti_dir / "000002.png"),
               "--cloud", str(kitti_dir / "000002.bin"), "--calib", str(kitti_dir / "000002.txt"),
               "-o", str(out), "--json")
    assert run.returncode == 0, run.stderr
    written = json.loads(out.read_text())
    assert written["scene"]["objects"], "the KITTI frame has cars: the fused scene is empty"
    scene, _ = load_scene_file(out)
    assert len(scene.objects) == len(written["scene"]["objects"])
    decided = _cli("decide", str(out), "--backend", "rules")
    assert decided.returncode == 0, decided.stderr
    decision = json.loads(decided.stdout.strip().splitlines()[-1])
    assert decision["action"] and decision["source"] == "fallback"  # the rule policy


def test_infinite_time_to_collision_round_trips(tmp_path: Path) -> None:
    obj = TrackedObject(track_id=1, class_name="car", confidence=0.9,
                           position_m=(20.0, 0.0, 0.0), size_m=(4.0, 1.8, 1.5),
                           velocity_mps=(0.0, 0.0, 0.0), distance_m=20.0,
                           relative_speed_mps=0.0, time_to_collision_s=math.inf,
                           lane_relation=0)
    scene = SceneSummary(stamp_ns=5, ego=EgoState(speed_mps=3.0), objects=[obj])
    path = tmp_path / "s.json"
    path.write_text(json.dumps(scene_to_dict(scene), allow_nan=False))  # strict JSON
    back, _ = load_scene_file(path)
    assert back.objects[0].time_to_collision_s == math.inf
    # files written before the codec was shared spelled it as a string
    legacy = scene_to_dict(scene)
    legacy["objects"][0]["time_to_collision_s"] = "inf"
    path.write_text(json.dumps(legacy))
    assert load_scene_file(path)[0].objects[0].time_to_collision_s == math.inf
