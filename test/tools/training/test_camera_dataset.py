"""The simulator dataset: boxes are the segmentation's, files are YOLO's, seeds never leak."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import yaml

from edge_llm_ros.sim import Simulator, load_scenario
from edge_llm_ros.tools.training.camera_dataset import (
    CLASS_NAMES,
    DEFAULT_CAMERA,
    HELDOUT_SEED_BASE,
    BoxFilter,
    RunSpec,
    boxes_from_segmentation,
    build_dataset,
    plan_runs,
    projected_box_px,
    random_scenario,
    yolo_label_lines,
)


@pytest.fixture(scope="module")
def mixed_frame() -> tuple:
    """A mixed_traffic frame with a car, truck, cyclist and pedestrians in view."""
    with Simulator(load_scenario("mixed_traffic"), seed=7, camera=DEFAULT_CAMERA, lidar=None,
                   rate_hz=1.0) as sim:
        for _ in range(5):
            frame = sim.step()
        seg = sim.render_segmentation()
        assert sim.camera_model is not None
        return frame, seg, sim.camera_model


def test_boxes_are_the_tight_boxes_of_the_segmentation(mixed_frame: tuple) -> None:
    frame, seg, camera = mixed_frame
    kept, ignored = boxes_from_segmentation(seg, frame.objects, camera, BoxFilter())
    assert len(kept) >= 3
    ids_in_image = set(np.unique(seg[seg >= 0]).tolist())
    assert {b.actor_id for b in kept + ignored} == ids_in_image  # every visible actor, once
    classes = {o.id: o.class_name for o in frame.objects}
    for b in kept + ignored:
        ys, xs = np.nonzero(seg == b.actor_id)
        assert b.box_px == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)  # pixel edges
        assert b.pixels == len(xs)
        assert b.class_name == classes[b.actor_id]
        assert 0.0 < b.visible_fraction <= 1.0
    for b in kept:
        assert b.pixels >= 40 and b.box_px[3] - b.box_px[1] >= 8
        assert b.visible_fraction >= 0.25
    for b in ignored:  # each ignored box fails at least one threshold
        assert not BoxFilter().keeps(b.pixels, b.box_px[3] - b.box_px[1], b.visible_fraction)


def test_projected_box_contains_the_visible_box(mixed_frame: tuple) -> None:
    frame, seg, camera = mixed_frame
    kept, _ = boxes_from_segmentation(seg, frame.objects, camera)
    by_id = {o.id: o for o in frame.objects}
    for b in kept:
        full = projected_box_px(by_id[b.actor_id], camera)
        assert full is not None
        x0, y0, x1, y1 = b.box_px
        assert full[0] <= x0 + 1 and full[1] <= y0 + 1 and full[2] >= x1 - 1 and full[3] >= y1 - 1


def test_filter_thresholds_move_boxes_to_ignored(mixed_frame: tuple) -> None:
    frame, seg, camera = mixed_frame
    kept, ignored = boxes_from_segmentation(seg, frame.objects, camera)
    strict = BoxFilter(min_pixels=10**9)
    kept2, ignored2 = boxes_from_segmentation(seg, frame.objects, camera, strict)
    assert kept2 == [] and len(ignored2) == len(kept) + len(ignored)


def test_yolo_label_lines_round_trip(mixed_frame: tuple) -> None:
    frame, seg, camera = mixed_frame
    kept, _ = boxes_from_segmentation(seg, frame.objects, camera)
    w, h = camera.width_px, camera.height_px
    for line, b in zip(yolo_label_lines(kept, w, h), kept, strict=True):
        cls, cx, cy, bw, bh = line.split()
        assert CLASS_NAMES[int(cls)] == b.class_name
        x0, y0 = (float(cx) - float(bw) / 2) * w, (float(cy) - float(bh) / 2) * h
        x1, y1 = (float(cx) + float(bw) / 2) * w, (float(cy) + float(bh) / 2) * h
        np.testing.assert_allclose((x0, y0, x1, y1), b.box_px, atol=1e-3)


def test_random_scenarios_are_seeded_and_valid() -> None:
    a, b, c = random_scenario(3), random_scenario(3), random_scenario(4)
    assert a == b and a != c
    assert {x.class_name for s in (a, c) for x in s.actors} <= set(CLASS_NAMES)
    assert len(a.actors) >= 3


def test_training_and_heldout_seeds_never_overlap() -> None:
    train = plan_runs(300, seed=0)
    held = plan_runs(300, seed=0, heldout=True)
    assert all(1 <= r.seed < HELDOUT_SEED_BASE for r in train)
    assert all(r.seed >= HELDOUT_SEED_BASE for r in held)
    assert {r.scenario for r in train} > {"procedural"}  # packaged scenarios are in the mix
    assert plan_runs(20, seed=0) == train[:20]  # a prefix: more images keep earlier runs


def _digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.suffix in (".png", ".txt", ".yaml"):
            h.update(p.relative_to(root).as_posix().encode())
            h.update(p.read_bytes().replace(str(root.resolve()).encode(), b"ROOT"))
    return h.hexdigest()


def test_build_dataset_layout_and_determinism(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                              ) -> None:
    # Short runs keep the test quick: two frames from each.
    short = [RunSpec(r.scenario, r.seed, 8.0) for r in plan_runs(4, seed=5)]
    monkeypatch.setattr("edge_llm_ros.tools.training.camera_dataset.plan_runs",
                        lambda n, seed, **kw: short)
    info = build_dataset(tmp_path / "a", n_images=6, seed=5, val_fraction=0.3)
    assert info.n_train + info.n_val == 6 and info.n_val >= 1
    data = yaml.safe_load(info.data_yaml.read_text())
    assert data["names"] == dict(enumerate(CLASS_NAMES))
    assert data["train"] == "images/train" and data["val"] == "images/val"
    for split in ("train", "val"):
        images = sorted((tmp_path / "a" / "images" / split).glob("*.png"))
        labels = sorted((tmp_path / "a" / "labels" / split).glob("*.txt"))
        assert [p.stem for p in images] == [p.stem for p in labels]
    assert sum(info.boxes_per_class.values()) > 0
    build_dataset(tmp_path / "b", n_images=6, seed=5, val_fraction=0.3)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
