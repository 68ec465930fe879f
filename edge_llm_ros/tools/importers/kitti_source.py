"""Finding the frames of a KITTI folder: the object layout and the raw-drive layout.

Object layout (object benchmark; also the flat variant, NNNNNN.bin/.png/.txt in one folder):
    velodyne/NNNNNN.bin  image_2/NNNNNN.png  calib/NNNNNN.txt  [label_2/ ignored]
  Frames are unrelated snapshots with no time: stamps are nominal, `rate_hz` apart.
  Each frame has its own calibration (frames come from different drives).

Raw layout (a "sync" drive of the raw recordings):
    <date>/calib_cam_to_cam.txt  <date>/calib_velo_to_cam.txt
    <date>/<date>_drive_XXXX_sync/velodyne_points/data/NNNNNNNNNN.bin (+ timestamps.txt)
    <date>/<date>_drive_XXXX_sync/image_02/data/NNNNNNNNNN.png (+ timestamps.txt)
    [<date>/<date>_drive_XXXX_sync/oxts/data/NNNNNNNNNN.txt (+ timestamps.txt): GPS/IMU]
  Stamps come from the timestamps.txt files; a sensor without one takes the other's;
  with neither, nominal `rate_hz` from midnight (UTC) of the drive's date. OXTS samples
  without their timestamps.txt take the scan's stamp.

Nothing here decodes scans or images: a frame names its files; the writer reads them
and skips (and counts) a frame whose file is corrupt.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np

from edge_llm_ros.perception.kitti import KittiFormatError, parse_kitti_calib

Layout = Literal["object", "raw"]

# Where nominal stamps start when the data says nothing of time: the first KITTI
# recording day, so stamps look like the real ones (0 would read as "no stamp").
KITTI_EPOCH_NS = calendar.timegm((2011, 9, 26, 0, 0, 0)) * 1_000_000_000
DEFAULT_RATE_HZ = 10.0  # the Velodyne's spin rate, which triggered the cameras

_TIMESTAMP = re.compile(r"^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?$")
_DRIVE_DATE = re.compile(r"(\d{4})_(\d{2})_(\d{2})")


class KittiImportError(ValueError):
    """Input the importer cannot use as a whole (layout, calibration, timestamps)."""


@dataclass(frozen=True)
class KittiRig:
    """What the bag needs of a calibration: camera 2's rectified projection, the
    rectifying rotation and the lidar -> camera 0 transform, in KITTI's meaning."""

    P2: np.ndarray  # (3, 4) rectified camera 2 projection, from the rectified camera 0 frame
    R0_rect: np.ndarray  # (3, 3) camera 0 -> rectified camera 0
    Tr_velo_to_cam: np.ndarray  # (3, 4) velodyne -> camera 0 (unrectified)

    def same_as(self, other: KittiRig) -> bool:
        return all(np.array_equal(a, b) for a, b in ((self.P2, other.P2),
                                                      (self.R0_rect, other.R0_rect),
                                                      (self.Tr_velo_to_cam,
                                                       other.Tr_velo_to_cam)))


@dataclass(frozen=True)
class KittiFrame:
    """One frame's files and stamps; `rig` None when its calibration could not be read
    (`problem` says why) — the writer skips it."""

    name: str
    scan: Path | None
    image: Path | None
    lidar_stamp_ns: int
    camera_stamp_ns: int
    rig: KittiRig | None
    problem: str = ""
    oxts: Path | None = None  # raw drives: the GPS/IMU sample of this frame
    oxts_stamp_ns: int = 0


@dataclass(frozen=True)
class KittiSource:
    layout: Layout
    root: Path
    frames: tuple[KittiFrame, ...]
    stamps_from: str  # "timestamps.txt", "image_02/timestamps.txt (both sensors)", "nominal"
    notes: tuple[str, ...] = field(default=())


def nominal_stamps(count: int, start_ns: int, rate_hz: float) -> list[int]:
    period_ns = 1e9 / rate_hz
    return [start_ns + round(i * period_ns) for i in range(count)]


def parse_timestamp_ns(text: str) -> int:
    """`2011-09-26 13:02:25.964389445` -> nanoseconds since the epoch, read as UTC (KITTI
    wrote local time without a zone; only differences between stamps matter here)."""
    m = _TIMESTAMP.match(text.strip())
    if not m:
        raise ValueError(f"not a KITTI timestamp (YYYY-MM-DD HH:MM:SS.fffffffff): {text!r}")
    y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
    fraction = (m.group(7) or "").ljust(9, "0")
    return calendar.timegm((y, mo, d, h, mi, s)) * 1_000_000_000 + int(fraction)


def read_timestamps(path: Path) -> list[int]:
    """Every stamp of a timestamps.txt (one per line), in nanoseconds."""
    stamps = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            stamps.append(parse_timestamp_ns(line))
        except ValueError as exc:
            raise KittiImportError(f"{path}:{lineno}: {exc}") from None
    return stamps


def _key_values(path: Path) -> dict[str, str]:
    """`KEY: values` lines of a raw calibration file (calib_time is text, the rest numbers)."""
    if not path.is_file():
        raise KittiImportError(f"{path}: calibration file missing")
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        key, sep, rest = line.partition(":")
        if sep:
            out[key.strip()] = rest.strip()
    return out


def _numbers(values: dict[str, str], key: str, count: int, path: Path) -> np.ndarray:
    if key not in values:
        raise KittiImportError(f"{path}: missing {key}")
    try:
        v = np.array([float(x) for x in values[key].split()], dtype=np.float64)
    except ValueError:
        raise KittiImportError(f"{path}: non-numeric value in {key}") from None
    if v.size != count:
        raise KittiImportError(f"{path}: {key} has {v.size} values, expected {count}")
    return v


def read_raw_calibration(date_dir: Path) -> KittiRig:
    """calib_cam_to_cam.txt (P_rect_02, R_rect_00) and calib_velo_to_cam.txt (R, T)."""
    cam_path = date_dir / "calib_cam_to_cam.txt"
    velo_path = date_dir / "calib_velo_to_cam.txt"
    cam, velo = _key_values(cam_path), _key_values(velo_path)
    tr = np.zeros((3, 4))
    tr[:, :3] = _numbers(velo, "R", 9, velo_path).reshape(3, 3)
    tr[:, 3] = _numbers(velo, "T", 3, velo_path)
    return KittiRig(P2=_numbers(cam, "P_rect_02", 12, cam_path).reshape(3, 4),
                    R0_rect=_numbers(cam, "R_rect_00", 9, cam_path).reshape(3, 3),
                    Tr_velo_to_cam=tr)


def detect_layout(src: Path) -> Layout:
    if (src / "velodyne").is_dir() or any(src.glob("*.bin")):
        return "object"
    if (src / "velodyne_points").is_dir() or (src / "image_02").is_dir() \
            or any(src.glob("*_drive_*_sync")):
        return "raw"
    raise KittiImportError(
        f"{src}: not a KITTI folder: expected the object layout (velodyne/, image_2/, "
        "calib/) or a raw drive (<date>_drive_XXXX_sync with velodyne_points/ and image_02/)")


def read_source(src: str | Path, layout: Layout | Literal["auto"] = "auto",
                rate_hz: float = DEFAULT_RATE_HZ, max_frames: int | None = None,
                hold: int = 1) -> KittiSource:
    """The frames of a KITTI folder, in order, at most `max_frames` of them. `hold`
    (object layout only): each frame `hold` times in a row at `rate_hz`. An object frame
    is a single instant of an unrelated place; held, a tracker can confirm what is in it,
    as if the car stood still there."""
    root = Path(src).expanduser()
    if not root.is_dir():
        raise KittiImportError(f"{root}: no such directory")
    if not rate_hz > 0:
        raise KittiImportError(f"rate must be positive, got {rate_hz} Hz")
    if max_frames is not None and max_frames < 1:
        raise KittiImportError(f"--frames must be at least 1, got {max_frames}")
    if hold < 1:
        raise KittiImportError(f"--hold must be at least 1, got {hold}")
    chosen = detect_layout(root) if layout == "auto" else layout
    if chosen == "object":
        return _held(_object_source(root, rate_hz, max_frames), hold, rate_hz)
    if hold != 1:
        raise KittiImportError("--hold is for the object layout (a raw drive is a sequence)")
    if chosen == "raw":
        return _raw_source(root, rate_hz, max_frames)
    raise KittiImportError(f"unknown layout {layout!r} (auto, object or raw)")


def _held(source: KittiSource, hold: int, rate_hz: float) -> KittiSource:
    if hold == 1:
        return source
    frames = [f for f in source.frames for _ in range(hold)]
    stamps = nominal_stamps(len(frames), KITTI_EPOCH_NS, rate_hz)
    held = tuple(replace(f, lidar_stamp_ns=t, camera_stamp_ns=t)
                 for f, t in zip(frames, stamps, strict=True))
    return replace(source, frames=held,
                   stamps_from=f"{source.stamps_from}, each frame held {hold} times")


def _stems(folder: Path, suffix: str) -> dict[str, Path]:
    return {p.stem: p for p in folder.glob(f"*{suffix}") if p.is_file()} if folder.is_dir() \
        else {}


def _limit(names: Sequence[str], max_frames: int | None) -> list[str]:
    ordered = sorted(names)
    return ordered[:max_frames] if max_frames is not None else ordered


def _object_source(root: Path, rate_hz: float, max_frames: int | None) -> KittiSource:
    nested = (root / "velodyne").is_dir()
    scan_dir, image_dir, calib_dir = ((root / "velodyne", root / "image_2", root / "calib")
                                      if nested else (root, root, root))
    scans, images, calibs = (_stems(scan_dir, ".bin"), _stems(image_dir, ".png"),
                             _stems(calib_dir, ".txt"))
    if nested:
        for folder in (image_dir, calib_dir):
            if not folder.is_dir():
                raise KittiImportError(f"{folder}: missing (object layout needs velodyne/, "
                                       "image_2/ and calib/)")
    names = _limit(set(scans) | set(images), max_frames)
    if not names:
        raise KittiImportError(f"{scan_dir}: no .bin scans and no .png images")
    stamps = nominal_stamps(len(names), KITTI_EPOCH_NS, rate_hz)
    frames = []
    for name, stamp in zip(names, stamps, strict=True):
        rig, problem = None, ""
        if name not in calibs:
            problem = f"no calibration {calib_dir / (name + '.txt')}"
        else:
            try:
                c = parse_kitti_calib(calibs[name])
                rig = KittiRig(P2=c.P2, R0_rect=c.R0_rect, Tr_velo_to_cam=c.Tr_velo_to_cam)
            except (KittiFormatError, OSError, UnicodeDecodeError) as exc:
                problem = f"bad calibration: {exc}"
        frames.append(KittiFrame(name, scans.get(name), images.get(name), stamp, stamp, rig,
                                 problem))
    notes = ("label_2/ is not imported (labels are not sensor data)",) \
        if (root / "label_2").is_dir() else ()
    return KittiSource("object", root, tuple(frames), f"nominal {rate_hz:g} Hz", notes)


def _find_drive(root: Path) -> Path:
    """The drive folder: SRC itself, or the one *_drive_*_sync folder inside SRC."""
    if (root / "velodyne_points").is_dir() or (root / "image_02").is_dir():
        return root
    drives = sorted(p for p in root.glob("*_drive_*_sync") if p.is_dir())
    if len(drives) == 1:
        return drives[0]
    if not drives:
        raise KittiImportError(f"{root}: no velodyne_points/ or image_02/ and no "
                               "*_drive_*_sync folder")
    raise KittiImportError(f"{root}: {len(drives)} drives ({', '.join(d.name for d in drives)}); "
                           "give one drive folder")


def _calibration_dir(drive: Path) -> Path:
    """Raw calibration lives beside the drive folders (<date>/), or in the drive itself."""
    for folder in (drive.parent, drive):
        if (folder / "calib_cam_to_cam.txt").is_file():
            return folder
    raise KittiImportError(f"{drive.parent / 'calib_cam_to_cam.txt'}: calibration file missing "
                           "(the raw layout keeps calib_cam_to_cam.txt and "
                           "calib_velo_to_cam.txt next to the drive folders)")


def _stamps_for(names: list[str], stamps: list[int], path: Path) -> list[int]:
    """A stamp per frame: a frame's number is its line in timestamps.txt."""
    out = []
    for name in names:
        index = int(name) if name.isdigit() else -1
        if not 0 <= index < len(stamps):
            raise KittiImportError(f"{path}: has {len(stamps)} stamps, none for frame {name}")
        out.append(stamps[index])
    return out


def _raw_source(root: Path, rate_hz: float, max_frames: int | None) -> KittiSource:
    drive = _find_drive(root)
    rig = read_raw_calibration(_calibration_dir(drive))
    scans = _stems(drive / "velodyne_points" / "data", ".bin")
    images = _stems(drive / "image_02" / "data", ".png")
    names = _limit(set(scans) | set(images), max_frames)
    if not names:
        raise KittiImportError(f"{drive}: no scans in velodyne_points/data and no images in "
                               "image_02/data")
    lidar_file = drive / "velodyne_points" / "timestamps.txt"
    camera_file = drive / "image_02" / "timestamps.txt"
    lidar = _stamps_for(names, read_timestamps(lidar_file), lidar_file) \
        if lidar_file.is_file() else None
    camera = _stamps_for(names, read_timestamps(camera_file), camera_file) \
        if camera_file.is_file() else None
    notes: list[str] = []
    if lidar is not None and camera is not None:
        stamps_from = "timestamps.txt"
    elif lidar is not None or camera is not None:
        have, missing = (lidar_file, camera_file) if lidar is not None else (camera_file,
                                                                             lidar_file)
        stamps_from = f"{have.parent.name}/timestamps.txt (both sensors)"
        notes.append(f"{missing} missing: its sensor takes {have.parent.name}'s stamps")
        lidar = camera = lidar if lidar is not None else camera
    else:
        m = _DRIVE_DATE.search(drive.name)
        start = (calendar.timegm((int(m[1]), int(m[2]), int(m[3]), 0, 0, 0)) * 1_000_000_000
                 if m else KITTI_EPOCH_NS)
        # The frame number keeps its place in time: frame 40 is 4 s in at 10 Hz.
        period_ns = 1e9 / rate_hz
        lidar = camera = [start + round((int(n) if n.isdigit() else i) * period_ns)
                          for i, n in enumerate(names)]
        stamps_from = f"nominal {rate_hz:g} Hz (no timestamps.txt)"
    assert lidar is not None and camera is not None
    oxts = _stems(drive / "oxts" / "data", ".txt")
    oxts_file = drive / "oxts" / "timestamps.txt"
    oxts_stamps = (_stamps_for(names, read_timestamps(oxts_file), oxts_file)
                   if oxts and oxts_file.is_file() else lidar)
    frames = tuple(KittiFrame(n, scans.get(n), images.get(n), ls, cs, rig, oxts=oxts.get(n),
                              oxts_stamp_ns=os_)
                   for n, ls, cs, os_ in zip(names, lidar, camera, oxts_stamps, strict=True))
    return KittiSource("raw", drive, frames, stamps_from, tuple(notes))
