"""COCO-trained detectors (what users bring: yolo11n.pt, yolov8s.onnx, ...) onto this
package's road-user classes.

COCO has no "cyclist": it labels the rider as a `person` and the machine as a
`bicycle` or `motorcycle`, two boxes for one road user. A vehicle cares about
the road user, so the default mapping pairs each two-wheeler with the person(s)
riding it and reports one `cyclist` box around both; a person on no
two-wheeler is a `pedestrian`, and a two-wheeler with no rider (parked) is
dropped. Pure functions on boxes: `CameraDetector` applies them when the
model's class names are COCO's and no `class_map` was given.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from edge_llm_ros.types import Detection2D

Box = tuple[float, float, float, float]  # x_min, y_min, x_max, y_max in pixels (y down)

# Names only a COCO-trained model has all of: how a model is recognised as one.
COCO_MARKER_NAMES = frozenset({"person", "bicycle", "car", "motorcycle", "bus", "truck"})
TWO_WHEELERS = frozenset({"bicycle", "motorcycle"})
RIDER_CLASS = "person"

# COCO names onto this package's classes; COCO classes not listed (dog, chair, ...)
# are dropped. Under the default mapping "bicycle"/"motorcycle" become "cyclist"
# only with a rider (see `map_coco_detections`); given as a plain `class_map`
# every entry renames as written.
COCO_CLASS_MAP: dict[str, str] = {
    "person": "pedestrian",
    "bicycle": "cyclist",
    "motorcycle": "cyclist",
    "car": "car",
    "truck": "truck",
    "bus": "truck",
}

# Where a rider's box may end, in two-wheeler heights below its top: at least a
# quarter of the way down (the lower body overlaps the machine) and at most a
# tenth below its bottom (box jitter at the wheels).
_FEET_MIN = 0.25
_FEET_MAX = 1.1


def is_coco_names(names: Iterable[str]) -> bool:
    """Whether a model's class names are COCO's (all of person, bicycle, car, motorcycle,
    bus, truck)."""
    return {str(n) for n in names} >= COCO_MARKER_NAMES


def rider_overlap(person: Box, two_wheeler: Box) -> float:
    """How well a person box sits on a two-wheeler box as its rider: the share of the
    person's area inside the two-wheeler's box, or 0.0 when it is not a rider.

    A rider's box is centred over the machine horizontally, reaches higher than
    it (head above the handlebars) and ends inside its lower part (feet on the
    pedals or just below the wheels). A person standing beside a bike at the
    same distance passes too (walking it: the same road user); a person nearer
    the camera ends lower in the image and fails.
    """
    px0, py0, px1, py1 = (float(v) for v in person)
    bx0, by0, bx1, by1 = (float(v) for v in two_wheeler)
    p_area = (px1 - px0) * (py1 - py0)
    b_height = by1 - by0
    if p_area <= 0.0 or b_height <= 0.0 or bx1 <= bx0:
        return 0.0
    centre_x = 0.5 * (px0 + px1)
    if not bx0 <= centre_x <= bx1:
        return 0.0
    if py0 >= by0:  # a rider's head is above the machine's top
        return 0.0
    feet_min, feet_max = by0 + _FEET_MIN * b_height, by0 + _FEET_MAX * b_height
    if not feet_min <= py1 <= feet_max:
        return 0.0
    inter_w = min(px1, bx1) - max(px0, bx0)
    inter_h = min(py1, by1) - max(py0, by0)
    if inter_w <= 0.0 or inter_h <= 0.0:
        return 0.0
    return inter_w * inter_h / p_area


def assign_riders(persons: Sequence[Box], two_wheelers: Sequence[Box]) -> dict[int, int]:
    """person index -> two-wheeler index for every person riding one (the two-wheeler it
    overlaps best as a rider). Several persons may ride one (a pillion passenger)."""
    riders: dict[int, int] = {}
    for i, person in enumerate(persons):
        best, best_overlap = -1, 0.0
        for j, machine in enumerate(two_wheelers):
            overlap = rider_overlap(person, machine)
            if overlap > best_overlap:
                best, best_overlap = j, overlap
        if best >= 0:
            riders[i] = best
    return riders


def _union(boxes: Iterable[Box]) -> Box:
    xs0, ys0, xs1, ys1 = zip(*((float(v) for v in b) for b in boxes), strict=True)
    return (min(xs0), min(ys0), max(xs1), max(ys1))


def map_coco_detections(detections: Sequence[Detection2D],
                        class_map: Mapping[str, str] = COCO_CLASS_MAP) -> list[Detection2D]:
    """COCO-named detections -> this package's road users (the default COCO mapping).

    A bicycle or motorcycle with a rider becomes one detection of the mapped class
    ("cyclist"): the union of its box and its riders' boxes, the highest of their
    scores, the two-wheeler's class id; its riders are not reported on their own.
    A two-wheeler without a rider is dropped; every other detection is renamed by
    `class_map`, and dropped when the map does not name its class. Order: the
    input's, each cyclist where its two-wheeler was.
    """
    persons = [k for k, d in enumerate(detections) if d.class_name == RIDER_CLASS]
    machines = [k for k, d in enumerate(detections) if d.class_name in TWO_WHEELERS]
    riders = assign_riders([tuple(detections[k].box_px) for k in persons],
                           [tuple(detections[k].box_px) for k in machines])
    ridden: dict[int, list[int]] = {}
    for p, m in riders.items():
        ridden.setdefault(machines[m], []).append(persons[p])
    riding = {persons[p] for p in riders}
    out: list[Detection2D] = []
    for k, det in enumerate(detections):
        if k in riding:
            continue
        if det.class_name in TWO_WHEELERS:
            if k not in ridden or det.class_name not in class_map:
                continue
            group = [det, *(detections[r] for r in ridden[k])]
            out.append(Detection2D(det.class_id, class_map[det.class_name],
                                   max(float(d.score) for d in group),
                                   _union(tuple(d.box_px) for d in group)))
            continue
        name = class_map.get(det.class_name)
        if name is not None:
            out.append(Detection2D(det.class_id, name, float(det.score),
                                   tuple(float(v) for v in det.box_px)))
    return out


def suppress_renamed(detections: Sequence[Detection2D], iou_threshold: float
                     ) -> list[Detection2D]:
    """One detection per object after renaming: of two with one name whose boxes overlap
    by `iou_threshold` or more, the higher score stays (a detector that scores every class
    at a peak reports a bus and a truck there; both are 'truck')."""
    kept: list[Detection2D] = []
    for d in sorted(detections, key=lambda d: -float(d.score)):
        if all(k.class_name != d.class_name or _iou(k.box_px, d.box_px) < iou_threshold
               for k in kept):
            kept.append(d)
    return kept


def _iou(a: Box, b: Box) -> float:
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(iw, 0.0) * max(ih, 0.0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0
