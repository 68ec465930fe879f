"""Message types for bag I/O: ROS 2 Jazzy's standard types plus this package's msg/.

Bags hold CDR bytes; turning them into objects (tests, the offline command
line) or storing a type's definition in a new bag (so Foxglove and `ros2 bag`
can decode it without our msg/) needs a type store. rosbags ships the Jazzy
standard types; ours are parsed from the .msg files, so no ROS build is needed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from weakref import WeakKeyDictionary
from xml.etree import ElementTree

from rosbags.interfaces import Nodetype
from rosbags.typesys import Stores, TypesysError, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

PACKAGE_NAME = "edge_llm_ros"

# The separator rosbag2 and rosbags put between the definitions of a type and
# of each type it uses ("ros2msg" schema encoding).
_DEFINITION_SEPARATOR = "=" * 80 + "\n"

# Original .msg text (comments, units and all) of the types a typestore got
# from .msg files; written into bags in place of rosbags' regenerated text.
_MSG_SOURCES: WeakKeyDictionary[Typestore, dict[str, str]] = WeakKeyDictionary()


class BagError(RuntimeError):
    """A bag cannot be read or written; the message names the bag and the problem."""


def package_msg_dir() -> Path:
    """The folder holding edge_llm_ros's .msg files.

    An installed package (colcon puts them in `<prefix>/share/edge_llm_ros/msg`)
    wins over the source tree, so a node uses the definitions it was built with.
    """
    for prefix in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep):
        if prefix:
            candidate = Path(prefix) / "share" / PACKAGE_NAME / "msg"
            if candidate.is_dir() and any(candidate.glob("*.msg")):
                return candidate
    # Symlink installs link this file to the source tree: resolve, then look up.
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "msg"
        if (parent / "package.xml").is_file() and candidate.is_dir():
            return candidate
    raise BagError(
        f"cannot find the {PACKAGE_NAME} message definitions: no "
        f"share/{PACKAGE_NAME}/msg under AMENT_PREFIX_PATH and no msg/ folder beside "
        f"the package source ({Path(__file__).resolve()})"
    )


def _package_name(package_dir: Path) -> str:
    """The package's name: package.xml's <name> if there is one, else the folder's name.

    A source checkout's folder need not be named after the package.
    """
    manifest = package_dir / "package.xml"
    if manifest.is_file():
        try:
            name = ElementTree.parse(manifest).getroot().findtext("name")
        except (OSError, ElementTree.ParseError) as exc:
            raise BagError(f"cannot read package manifest '{manifest}': {exc}") from exc
        if name and name.strip():
            return name.strip()
    return package_dir.name


def _msg_files(msg_dir: Path) -> Iterator[tuple[str, Path]]:
    """(type name, file) for each .msg file in a `<pkg>/msg` folder."""
    msg_dir = Path(msg_dir)
    if not msg_dir.is_dir():
        raise BagError(f"message folder '{msg_dir}' does not exist")
    if msg_dir.name != "msg":
        raise BagError(
            f"message folder '{msg_dir}' must be named msg/ inside its package "
            "folder (<pkg>/msg/Name.msg): the package name is taken from that layout"
        )
    package = _package_name(msg_dir.resolve().parent)
    for path in sorted(msg_dir.glob("*.msg")):
        yield f"{package}/msg/{path.stem}", path


def build_typestore(extra_msg_dirs: Sequence[Path] = ()) -> Typestore:
    """ROS 2 Jazzy standard types, every edge_llm_ros message, and any extra `<pkg>/msg` dirs.

    Type names are `<pkg>/msg/<Name>`, as ROS 2 writes them in bags.
    """
    typestore = get_typestore(Stores.ROS2_JAZZY)
    sources: dict[str, str] = {}
    files: dict[str, Path] = {}
    typs: dict[str, object] = {}
    for msg_dir in (package_msg_dir(), *extra_msg_dirs):
        for name, path in _msg_files(Path(msg_dir)):
            try:
                text = path.read_text(encoding="utf-8")
                typs.update(get_types_from_msg(text, name))
            except (OSError, UnicodeDecodeError, TypesysError) as exc:
                raise BagError(f"cannot parse message definition '{path}': {exc}") from exc
            sources[name] = text
            files[name] = path
    try:
        typestore.register(typs)  # type: ignore[arg-type]
    except TypesysError as exc:
        raise BagError(f"cannot register message types: {exc}") from exc
    # The .msg parser is lenient: a misspelt type parses as a reference to a
    # type that does not exist. Catch that here, naming the file.
    for name, path in files.items():
        for dep in _field_types(typestore, name):
            if dep not in typestore.fielddefs:
                raise BagError(
                    f"message definition '{path}' uses type '{dep}', which is neither a "
                    "ROS 2 Jazzy standard type nor defined in the message folders given"
                )
    _MSG_SOURCES[typestore] = sources
    return typestore


def _field_types(typestore: Typestore, msgtype: str) -> list[str]:
    """Message types of `msgtype`'s fields (element types for arrays), in field order."""
    found = []
    for _, desc in typestore.fielddefs[msgtype][1]:
        kind, arg = desc
        if kind in (Nodetype.ARRAY, Nodetype.SEQUENCE):
            kind, arg = arg[0]
        if kind == Nodetype.NAME:
            found.append(arg)
    return found


def _dependencies(typestore: Typestore, msgtype: str) -> list[str]:
    """Types `msgtype` uses, directly or not, depth first in field order (rosbag2's order)."""
    seen: dict[str, None] = {}

    def visit(name: str) -> None:
        for dep in _field_types(typestore, name):
            if dep not in seen:
                seen[dep] = None
                visit(dep)

    visit(msgtype)
    return list(seen)


def _short_name(msgtype: str) -> str:
    """`pkg/msg/Name` -> `pkg/Name`, the form after `MSG:` in stored definitions."""
    package, _, name = msgtype.rpartition("/msg/")
    return f"{package}/{name}" if package else msgtype


def message_definition(typestore: Typestore, msgtype: str) -> tuple[str, str]:
    """(definition text, RIHS01 type hash) of `msgtype`, as rosbag2 stores them in a bag.

    The text is the type's definition followed by those of every type it uses,
    so a reader needs nothing else to decode it. Types that came from .msg files
    keep their original text (comments and units included); standard types get
    the text rosbags regenerates.
    """
    if msgtype not in typestore.fielddefs:
        raise KeyError(msgtype)
    sources: Mapping[str, str] = _MSG_SOURCES.get(typestore, {})

    def text_of(name: str) -> str:
        if name in sources:
            return sources[name].rstrip() + "\n"
        return typestore.gendefhash(name, {}, ros_version=2)[0]

    parts = [text_of(msgtype)]
    for dep in _dependencies(typestore, msgtype):
        parts.append(f"{_DEFINITION_SEPARATOR}MSG: {_short_name(dep)}\n{text_of(dep)}")
    return "".join(parts), typestore.hash_rihs01(msgtype)


def serialize(typestore: Typestore, msg_obj: object, msgtype: str) -> bytes:
    """CDR bytes of a message object, as a ROS 2 publisher sends them."""
    try:
        return bytes(typestore.serialize_cdr(msg_obj, msgtype))
    except Exception as exc:
        raise BagError(f"cannot serialize a {msgtype} message: {exc!r}") from exc


def deserialize(typestore: Typestore, raw: bytes | memoryview, msgtype: str) -> object:
    """Message object from CDR bytes (the typestore must know `msgtype`)."""
    try:
        return typestore.deserialize_cdr(raw, msgtype)
    except Exception as exc:
        raise BagError(f"cannot deserialize a {msgtype} message: {exc!r}") from exc
