"""Import verbs: public data sets to rosbag2 bags (`edge-llm-ros import kitti ...`)."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from pathlib import Path

from edge_llm_ros.tools.cli.common import FORMATTER, add_verb, fail


def cmd_import_kitti(args: argparse.Namespace) -> int:
    from edge_llm_ros.tools.importers.kitti_bag import import_kitti
    from edge_llm_ros.tools.importers.kitti_source import KittiImportError

    try:
        report = import_kitti(args.src, args.output, layout=args.layout, rate_hz=args.rate_hz,
                              max_frames=args.frames, hold=args.hold,
                              log=lambda line: print(f"warning: {line}", file=sys.stderr))
    except KittiImportError as exc:
        return fail(str(exc))
    figures = report.as_dict()
    if args.json:
        print(json.dumps(figures))
        return 0
    print(f"wrote {report.bag}: {report.frames_written} frames ({report.layout} layout, "
          f"stamps: {report.stamps_from}), {report.tf_static_messages} /tf_static message(s)"
          + (f", {report.odometry_messages} /odom" if report.odometry_messages else ""))
    for reason, names in figures["skipped"].items():
        print(f"skipped {len(names)} frame(s), {reason}: {', '.join(names)}")
    for note in report.notes:
        print(f"note: {note}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = add_verb(sub, "import", help="public data sets to rosbag2 bags (KITTI)",
                 description="Convert a public data set into a rosbag2 MCAP bag that `replay` "
                 "plays into the pipeline: the topics the nodes subscribe to and /tf_static.",
                 examples=["edge-llm-ros import kitti data/kitti_object/training -o out/kitti",
                           "edge-llm-ros import kitti 2011_09_26/2011_09_26_drive_0005_sync "
                           "-o out/drive5",
                           "edge-llm-ros replay out/drive5"])
    kinds = p.add_subparsers(dest="dataset", required=True, metavar="DATASET")
    k = kinds.add_parser(
        "kitti", formatter_class=FORMATTER, help="KITTI object layout or raw drive",
        description=textwrap.fill(
            "KITTI to MCAP: /lidar/points (PointCloud2 x, y, z, intensity; frame velodyne), "
            "/camera/image_raw (bgr8) and /camera/camera_info (K and P from P2; frame "
            "cam2_rect, the rectified colour camera), /tf_static (base_link -> velodyne -> "
            "cam0 -> cam0_rect -> cam2_rect from the calibration); raw drives with oxts/ "
            "also /odom (speed, yaw rate, pose).", 88) + "\n\n" + textwrap.fill(
            "Object layout: velodyne/, image_2/, calib/ (frames get nominal stamps at "
            "--rate-hz). Raw drive: <date>_drive_XXXX_sync with velodyne_points/ and "
            "image_02/, calibration beside it; stamps from timestamps.txt, else nominal. "
            "Frames with a missing or corrupt file are skipped and listed; bad input as a "
            "whole exits 2 and writes nothing.", 88),
        epilog="examples:\n"
        "  edge-llm-ros import kitti ../shared/data/kitti_labelled -o out/kitti_labelled\n"
        "  edge-llm-ros import kitti 2011_09_26/2011_09_26_drive_0005_sync -o out/drive5 "
        "--frames 50\n"
        "  edge-llm-ros import kitti my_drive --layout raw --rate-hz 10 -o out/my_drive --json\n"
        "  edge-llm-ros info out/drive5\n"
        "  edge-llm-ros replay out/drive5 --pipeline "
        "--pipeline-param scene_fusion.extrinsics_source=tf")
    k.set_defaults(verb_parser=k)
    k.add_argument("src", type=Path, metavar="SRC",
                   help="KITTI folder: object layout root, or a raw drive (or its date folder)")
    k.add_argument("-o", "--output", type=Path, required=True, metavar="OUT",
                   help="bag directory to create (must not exist)")
    k.add_argument("--layout", choices=["auto", "object", "raw"], default="auto",
                   help="input layout (default: auto, from the folders present)")
    k.add_argument("--rate-hz", type=float, default=10.0,
                   help="frame rate of nominal stamps, where the data has no timestamps "
                   "(default: 10, the Velodyne's rate)")
    k.add_argument("--frames", type=int, default=None, metavar="N",
                   help="import only the first N frames")
    k.add_argument("--hold", type=int, default=1, metavar="N",
                   help="object layout: each frame N times in a row (a single instant held, "
                   "as if standing still, so trackers confirm its objects; default 1)")
    k.add_argument("--json", action="store_true", help="print the import report as one JSON "
                   "object")
    k.set_defaults(func=cmd_import_kitti)
