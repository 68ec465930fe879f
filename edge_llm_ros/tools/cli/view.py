"""`view`: a recorded bag made ready for Foxglove, and annotated frames as PNG files."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from edge_llm_ros.tools.cli.common import add_json_flag, add_params_file, add_verb, fail


def cmd_view(args: argparse.Namespace) -> int:
    from edge_llm_ros.tools.offline.view import ViewInputError, view_bag

    if args.png_only and args.png is None:
        return fail("--png-only needs --png DIR")
    if args.png_every < 1:
        return fail(f"--png-every must be at least 1, got {args.png_every}")
    try:
        result = view_bag(args.bag, args.output, args.png, args.png_every,
                          write_bag=not args.png_only, params_files=args.params_file)
    except ViewInputError as exc:
        return fail(str(exc))
    summary = result.as_dict()
    if args.json:
        print(json.dumps(summary))
        return 0
    if result.output is not None:
        print(f"wrote {result.output} (open it in Foxglove, or replay it for RViz)")
    for topic, count in sorted(result.viz_counts.items()):
        print(f"  {topic:<24} {count:>6} messages")
    if result.pngs:
        print(f"wrote {len(result.pngs)} annotated frames to {result.pngs[0].parent}")
    if result.skipped:
        print("not shown: " + ", ".join(f"{k} ({v})" for k, v in result.skipped.items()))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = add_verb(sub, "view", help="make a recorded bag Foxglove-ready; annotated PNG frames",
                 description="Copy a recorded bag (MCAP or sqlite3) to a new MCAP bag with "
                 "visualisation topics added: /viz/objects (the tracked objects as 3D boxes "
                 "coloured by class, labelled with class, id, speed and TTC), /viz/lidar_objects "
                 "and /viz/ground_truth (the lidar detector's and the simulator's boxes), "
                 "/viz/decision (the decision as text above the ego vehicle), all "
                 "visualization_msgs/MarkerArray, and /viz/image_annotated (the camera image "
                 "with the 2D detections, the tracked boxes projected with the calibration and "
                 "the decision written on top). Foxglove and RViz both read these types. "
                 "--png writes the annotated frames as PNG files. For a live view of a running "
                 "pipeline use `sim --foxglove` or `replay --foxglove`.",
                 examples=["edge-llm-ros view out/run1               # -> out/run1-viz",
                           "edge-llm-ros view out/run1 -o out/run1-foxglove --png out/frames",
                           "edge-llm-ros view out/run1 --png out/frames --png-every 10 "
                           "--png-only"])
    p.add_argument("bag", type=Path, help="recorded bag (directory, .mcap or .db3)")
    p.add_argument("-o", "--output", type=Path, default=None,
                   help="bag directory to create (default: beside the bag, BAG-viz)")
    p.add_argument("--png", type=Path, default=None, metavar="DIR",
                   help="also write the annotated camera frames here as PNG files")
    p.add_argument("--png-every", type=int, default=1, metavar="N",
                   help="with --png: write every N-th annotated frame (default 1: all)")
    p.add_argument("--png-only", action="store_true", help="with --png: write no bag")
    add_params_file(p)
    add_json_flag(p)
    p.set_defaults(func=cmd_view)
