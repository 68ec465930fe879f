"""The run group: what sim/replay/record hand the nodes, `info` on a real bag, `sim --list`.
(Runs of nodes through these verbs are tested in test/nodes, e.g. test_sim_pipeline.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge_llm_ros.bag.types import build_typestore
from edge_llm_ros.bag.writer import BagRecorder
from edge_llm_ros.params.core import validate_params
from edge_llm_ros.params.specs import NODE_SPECS
from edge_llm_ros.tools.cli import build_parser
from edge_llm_ros.tools.cli.run import record_overrides, replay_overrides, sim_overrides


@pytest.mark.parametrize("argv, build", [
    (["sim", "--scenario", "car_braking_ahead", "--seed", "3", "--rate-hz", "20",
      "--realtime-factor", "0", "--record", "out/x", "-p", "simulator.loop=true"],
     sim_overrides),
    (["replay", "b", "--rate", "0.5", "--loop", "--start-offset", "2", "--topics", "/odom",
      "--no-clock", "--skip-unknown-types"], replay_overrides),
    (["record", "-o", "out/r", "--topics", "/odom", "/clock", "--storage", "sqlite3"],
     record_overrides),
])
def test_each_flag_becomes_a_declared_node_parameter(argv, build) -> None:
    """Every override a verb builds is a parameter its node declares, of the right type."""
    overrides = build(build_parser().parse_args(argv))
    assert overrides
    for node, values in overrides.items():
        checked = validate_params(node, NODE_SPECS[node], values)  # ConfigError if not
        assert {k: checked[k] for k in values} == values, node


def test_sim_flags_override_p_and_record_sets_the_output() -> None:
    args = build_parser().parse_args(["sim", "-p", "simulator.seed=1", "--seed", "4",
                                      "--record", "out/y"])
    assert sim_overrides(args) == {"simulator": {"seed": 4},
                                   "bag_recorder": {"output_path": "out/y"}}


@pytest.fixture
def small_bag(tmp_path: Path) -> Path:
    store = build_typestore()
    String = store.types["std_msgs/msg/String"]
    path = tmp_path / "bag"
    with BagRecorder(path, typestore=store) as rec:
        rec.add_topic("/chatter", "std_msgs/msg/String")
        for i in range(11):
            rec.write("/chatter", 1_000_000_000 + i * 100_000_000,
                      store.serialize_cdr(String(data=f"hello {i}"), "std_msgs/msg/String"))
    return path


def test_info_summarises_a_real_bag(cli, small_bag: Path) -> None:
    code, out, _ = cli("info", str(small_bag), "--json")
    assert code == 0
    summary = json.loads(out)
    assert summary["messages"] == 11 and summary["duration_s"] == 1.0
    assert summary["topics"] == [{"topic": "/chatter", "type": "std_msgs/msg/String",
                                  "count": 11, "rate_hz": 10.0}]
    code, out, _ = cli("info", str(small_bag))
    assert code == 0 and "/chatter" in out and "10.00" in out


def test_info_on_a_missing_bag_exits_2_with_one_line(cli, tmp_path: Path) -> None:
    code, out, err = cli("info", str(tmp_path / "nothing"))
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1 and err.startswith("error: ")
    assert str(tmp_path / "nothing") in err


def test_sim_list_names_the_packaged_scenarios(cli) -> None:
    from edge_llm_ros.sim import list_scenarios

    code, out, _ = cli("sim", "--list")
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()] == list(list_scenarios())


def test_a_simulated_run_tells_fusion_the_scenarios_road() -> None:
    from edge_llm_ros.paths import config_file
    from edge_llm_ros.tools.cli.run import simulator_road_params

    files = [config_file("simulator.yaml")]
    # The default scenario (mixed_traffic: 13.9 m/s, one lane our way to the left).
    assert simulator_road_params({}, files, []) == [
        "scene_fusion.speed_limit_mps=13.9", "scene_fusion.lanes_left_our_way=1"]
    # --scenario picks the road; what the user sets on the command line wins.
    got = simulator_road_params({"simulator": {"scenario": "stopped_vehicle_in_lane"}}, files,
                                ["scene_fusion.lanes_left_our_way=0"])
    assert [p.split("=")[0] for p in got] == ["scene_fusion.speed_limit_mps"]
