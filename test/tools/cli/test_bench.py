"""`bench perception | reasoner | offload`: one subparser per target, each with only its own
options, so a flag meant for another target is an error, not silently ignored. (The
benchmarks themselves: test/tools/bench and test/tools/evaluation.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_llm_ros.paths import model_file
from edge_llm_ros.tools.cli import build_parser
from edge_llm_ros.tools.cli.bench import DEFAULT_KITTI, perception_settings

TARGETS = ("perception", "reasoner", "offload", "system")


def test_targets_share_only_json_and_node_params(options_of) -> None:
    """--json everywhere; --params-file where the target runs nodes' configs."""
    own = {t: options_of(("bench", t)) for t in TARGETS}
    assert "--frames" in own["perception"] and "--scenes" in own["reasoner"]
    assert "--profile" in own["offload"] and "--backend" in own["reasoner"]
    for a in TARGETS:
        for b in TARGETS:
            if a != b:
                node_params = {"--params-file"} if {a, b} <= {"perception", "reasoner"} else set()
                assert own[a] & own[b] == {"--json"} | node_params, (a, b)


@pytest.mark.parametrize("target", TARGETS)
def test_each_target_rejects_every_other_targets_options(cli, options_of, target: str) -> None:
    own = options_of(("bench", target))
    foreign = set().union(*(options_of(("bench", t)) for t in TARGETS if t != target)) - own
    assert foreign
    for flag in sorted(foreign):
        code, out, err = cli("bench", target, flag)
        assert code == 2 and out == "", flag
        last = err.splitlines()[-1]
        assert last.startswith(f"edge-llm-ros bench {target}: error: "), flag
        assert flag in last, flag


def test_perception_settings_default_to_the_packaged_models_and_kitti() -> None:
    args = build_parser().parse_args(["bench", "perception"])
    assert perception_settings(args) == {
        "frames": 200, "kitti": DEFAULT_KITTI,
        "camera_models": [model_file("sim_detector.onnx"), model_file("sim_detector.pt")]}
    args = build_parser().parse_args(["bench", "perception", "--skip-camera", "--frames", "5",
                                      "--kitti", "k"])
    assert perception_settings(args) == {"frames": 5, "kitti": Path("k"), "camera_models": []}
    args = build_parser().parse_args(["bench", "perception", "--camera-model", "a.onnx",
                                      "--camera-model", "b.pt"])
    assert perception_settings(args)["camera_models"] == [Path("a.onnx"), Path("b.pt")]


def test_the_default_kitti_folder_is_where_the_tests_find_it() -> None:
    """../shared/data/kitti beside the repository, as test/conftest.py's kitti_dir."""
    repo = Path(__file__).resolve().parents[3]
    assert repo.parent / "shared" / "data" / "kitti" == DEFAULT_KITTI


def test_offload_settings_are_benchmark_offloads_keyword_arguments() -> None:
    import inspect

    from edge_llm_ros.tools.bench.offload import BENCH_PROFILES, benchmark_offload
    from edge_llm_ros.tools.cli.bench import offload_settings

    args = build_parser().parse_args(["bench", "offload"])
    assert offload_settings(args) == {"profile_names": BENCH_PROFILES,
                                      "seconds_per_profile": 40.0}
    args = build_parser().parse_args(["bench", "offload", "--profile", "1mbit_100ms",
                                      "--profile", "10mbit_50ms", "--seconds-per-profile", "9"])
    settings = offload_settings(args)
    assert settings == {"profile_names": ("1mbit_100ms", "10mbit_50ms"),
                        "seconds_per_profile": 9.0}
    assert set(settings) <= set(inspect.signature(benchmark_offload).parameters)


def test_kitti_camera_resolves_the_fetched_centernet_or_says_why_not(tmp_path: Path) -> None:
    from edge_llm_ros.tools.cli.bench import KITTI_CAMERA_DEFAULT, kitti_camera_model

    assert kitti_camera_model("none") == "skipped: --kitti-camera none"
    missing = kitti_camera_model(str(tmp_path / "nothing.json"))
    assert isinstance(missing, str) and missing.startswith("skipped: model file not found")
    default = kitti_camera_model(str(KITTI_CAMERA_DEFAULT))
    if isinstance(default, Path):
        assert default == model_file("coco_centernet/centernet.json")
    else:
        assert "fetch_coco_centernet.sh" in default
    args = build_parser().parse_args(["bench", "perception"])
    assert args.kitti_camera == str(KITTI_CAMERA_DEFAULT)
