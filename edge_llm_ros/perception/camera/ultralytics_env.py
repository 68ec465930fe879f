"""Import Ultralytics so that it never touches the network or installs anything.

Out of the box Ultralytics probes DNS at import, fetches its plot font
(Arial.ttf) from GitHub, may `pip install` a missing export dependency and
writes settings under ~/.config. On a vehicle (or CI) there is no network and
a silent install is unwanted, so before the first import this sets, unless
the user already set them:

- YOLO_OFFLINE=1: no online checks, no hub, no analytics;
- YOLO_AUTOINSTALL=False: a missing package (tensorrt, onnxruntime) is an
  error naming it, not a pip run;
- YOLO_CONFIG_DIR: a per-user cache folder of this package, holding a copy
  of matplotlib's DejaVuSans as Arial.ttf and Arial.Unicode.ttf, the fonts
  Ultralytics would otherwise download for its training plots.

Everything that imports Ultralytics in this package goes through `ultralytics()`.
If the application imported Ultralytics earlier, the variables it read then stay
in force (a warning says so).

One more hazard is handled here: importing Ultralytics imports torchvision,
which imports torch._dynamo, which imports Triton, whose native library
bundles its own LLVM. If Mesa's llvmpipe (the simulator's headless OpenGL)
has already loaded the system libLLVM into the process, that import crashes
the process (SIGSEGV in `triton._C.libtriton`). Loaded the other way round
both work. So when libLLVM is already mapped and Triton is not, Triton is
made unimportable (`sys.modules["triton"] = None`): torch treats it as not
installed, which only disables torch.compile's GPU kernels, unused here.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import warnings
from pathlib import Path
from types import ModuleType

_FONTS = ("Arial.ttf", "Arial.Unicode.ttf")


def default_config_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "edge_llm_ros" / "ultralytics"


def _font_source() -> Path | None:
    """A TTF that is always installed with Ultralytics: matplotlib's DejaVuSans."""
    try:
        import matplotlib

        path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
        return path if path.is_file() else None
    except ImportError:
        return None


def _stock_fonts(sub: Path) -> None:
    try:
        sub.mkdir(parents=True, exist_ok=True)
        src = _font_source()
        for name in _FONTS:
            if src is not None and not (sub / name).exists():
                shutil.copyfile(src, sub / name)
    except OSError as exc:  # read-only home: Ultralytics falls back to a temp dir
        warnings.warn(f"cannot prepare Ultralytics config dir {sub}: {exc}", stacklevel=3)


def prepare_environment(config_dir: str | Path | None = None) -> Path:
    """Set the offline variables (keeping any the user set) and stock the fonts; return the dir.

    `config_dir` overrides YOLO_CONFIG_DIR (training uses a folder of its own
    output so a run is self-contained).
    """
    if config_dir is not None:
        os.environ["YOLO_CONFIG_DIR"] = str(config_dir)
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_AUTOINSTALL", "False")
    cfg = Path(os.environ.setdefault("YOLO_CONFIG_DIR", str(default_config_dir())))
    _stock_fonts(cfg / "Ultralytics")  # Ultralytics appends this to YOLO_CONFIG_DIR
    return cfg


def guard_triton() -> bool:
    """Make a later Triton import safe (see the module docstring); True if Triton is blocked.

    Without libLLVM in the process Triton is imported now (about 0.2 s), so a
    simulator started afterwards is safe too; with libLLVM already there it
    is blocked.
    """
    if "triton" in sys.modules:
        return sys.modules["triton"] is None
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            llvm_loaded = any("libLLVM" in line for line in maps)
    except OSError:  # not Linux
        return False
    if llvm_loaded:
        sys.modules["triton"] = None  # type: ignore[assignment]
        return True
    # Not installed (CPU torch) or broken: torch copes without it.
    with contextlib.suppress(Exception):
        import triton  # noqa: F401
    return False


def ultralytics(config_dir: str | Path | None = None) -> ModuleType:
    """The `ultralytics` module, imported offline (see the module docstring)."""
    guard_triton()
    if "ultralytics" in sys.modules:  # imported by the application: its settings stand
        module = sys.modules["ultralytics"]
        from ultralytics import utils

        _stock_fonts(Path(utils.USER_CONFIG_DIR))  # where this import looks for fonts
        if utils.ONLINE or utils.AUTOINSTALL:
            warnings.warn("ultralytics was imported before edge_llm_ros set YOLO_OFFLINE=1 and "
                          "YOLO_AUTOINSTALL=False: it may try the network", stacklevel=2)
        return module
    prepare_environment(config_dir)
    import ultralytics as module

    return module
