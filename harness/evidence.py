"""A test's evidence: its timeline on the world's clock, images and texts, and the ``@step`` adapters wear.

DESIGN.md ("Evidence"): each test keeps its own timeline (the QR shown, device events, the activator's
outcome, adapter calls), written under ``<evidence-dir>/<tc-id>/`` and attached to the report when the test
does not pass. Everything written goes through a :class:`~harness.redaction.Redactor` first.

Adapters mark their methods with :func:`step` (as labgrid's ``@step``): the call is recorded in the timeline
of the test that is running, and shown as an Allure step when allure-pytest is active. With no test running
the decorator costs one global read. Nothing here imports pytest.

Timelines are for people: each line has its ISO-8601 wall time and, in a run on the virtual clock, the virtual
time beside it as an offset from the test's first entry (``+600.000 s``: every step of an emulated pairing happens
at the same virtual instant, and a token's lifetime passes in a millisecond of wall time). Values are shown as a
person reads them (:func:`for_people`: text as text, bytes as UTF-8 or hex, an image by its size), never as a
Python repr.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import inspect
import io
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePath
from typing import Any, TypeVar, overload

from harness.redaction import MASK, Redactor, is_secret_key

F = TypeVar("F", bound=Callable[..., Any])

_ARG_REPR_LIMIT = 120


@dataclass(frozen=True)
class TimelineEntry:
    """One thing that happened: when (world clock, and wall clock), what kind (note, step, device, activator,
    attachment)."""

    at: float
    kind: str
    name: str
    details: Mapping[str, Any] = field(default_factory=dict)
    wall: float = field(default_factory=time.time)


def iso_time(epoch: float) -> str:
    """``2025-01-01T12:00:00.123Z``: an epoch time as ISO-8601 UTC, to the millisecond."""
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def for_people(value: Any, *, limit: int = 400, _depth: int = 0) -> Any:
    """``value`` as a person reads it, ready for JSON: text as text, bytes as their UTF-8 text (else hex), enums
    by value, records and mappings by their fields (secret-named ones masked), an image by its size; never a
    Python repr such as ``b'...'`` or ``<... object at 0x...>``."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return value if len(value) <= limit else value[: limit - 1] + "…"
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
        try:
            return for_people(data.decode("utf-8"), limit=limit)
        except UnicodeDecodeError:
            return for_people(f"{len(data)} bytes 0x{data.hex()}", limit=limit)
    if isinstance(value, enum.Enum):
        return for_people(value.value, limit=limit, _depth=_depth)
    if isinstance(value, PurePath):
        return str(value)
    if _depth >= 4:
        return _kind_of(value)
    return _structure_for_people(value, functools.partial(for_people, limit=limit, _depth=_depth + 1))


def _structure_for_people(value: Any, deeper: Callable[[Any], Any]) -> Any:
    """A record, mapping, collection or pydantic model by its parts (each through ``deeper``), secret-named
    fields masked; anything else by what it is (:func:`_kind_of`)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: MASK if is_secret_key(f.name) else deeper(getattr(value, f.name))
                for f in dataclasses.fields(value) if f.repr}
    if isinstance(value, Mapping):
        return {str(k): MASK if is_secret_key(str(k)) else deeper(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = list(value)
        shown = [deeper(v) for v in items[:20]]
        return [*shown, f"… {len(items) - 20} more"] if len(items) > 20 else shown
    dump = getattr(value, "model_dump", None)  # a pydantic model
    if callable(dump):
        return deeper(dump(mode="json"))
    return _kind_of(value)


def _kind_of(value: Any) -> str:
    """What an object is, for people: an image by its size and mode, anything else by its class (and its own
    ``str`` when it has one)."""
    size, mode = getattr(value, "size", None), getattr(value, "mode", None)
    if isinstance(size, tuple) and len(size) == 2 and isinstance(mode, str):
        return f"image {size[0]}×{size[1]} ({mode})"
    name = type(value).__name__
    text = str(value)
    return text if text and " object at 0x" not in text and not text.startswith("<") else name


def _from(events: Iterable[Any], since: float | None) -> list[Any]:
    """The events at or after ``since``. A device's events come in the order they happened (every adapter's
    timeline is kept that way), and a device's whole history grows with every test: the walk starts at the end
    and stops at the first event before ``since``."""
    if since is None:
        return list(events)
    found: list[Any] = []
    for event in reversed(events if isinstance(events, Sequence) else list(events)):
        if float(getattr(event, "at", 0.0)) < since:
            break
        found.append(event)
    found.reverse()
    return found


class EvidenceRecorder:
    """The evidence of one test. ``note``, ``attach_image`` and ``attach_text`` may be called from any thread."""

    def __init__(self, tc_id: str, nodeid: str, *, redactor: Redactor | None = None,
                 now: Callable[[], float] = time.time, virtual: Callable[[], bool] | bool = False) -> None:
        self.tc_id = tc_id
        self.nodeid = nodeid
        self.redactor = redactor if redactor is not None else Redactor()
        self.now = now
        self._virtual = virtual
        self._lock = threading.Lock()
        self._timeline: list[TimelineEntry] = []
        self._images: dict[str, bytes] = {}
        self._texts: dict[str, str] = {}
        self._clean_images: dict[tuple[str, int], bytes] = {}
        self.path: Path | None = None

    # -- recording --------------------------------------------------------------------------------------

    @property
    def virtual(self) -> bool:
        """Whether ``now`` is a virtual clock (its times are then shown as offsets beside the wall time)."""
        return bool(self._virtual() if callable(self._virtual) else self._virtual)

    def record(self, kind: str, name: str, details: Mapping[str, Any] | None = None, *,
               at: float | None = None, wall: float | None = None) -> None:
        entry = TimelineEntry(self.now() if at is None else at, kind, name, dict(details or {}),
                              time.time() if wall is None else wall)
        with self._lock:
            self._timeline.append(entry)

    def note(self, name: str, **details: Any) -> None:
        """Record that something happened, with details (secret-named keys are masked when written)."""
        self.record("note", name, details)

    def attach_image(self, name: str, image: Any) -> None:
        """Keep an image (a PIL image, or PNG bytes) as evidence, e.g. the QR code shown to the device."""
        if isinstance(image, bytes | bytearray):
            data = bytes(image)
        else:
            buffer = io.BytesIO()
            image.save(buffer, format="PNG")
            data = buffer.getvalue()
        with self._lock:
            self._images[_unique(name, self._images)] = data
        self.record("attachment", name, {"type": "image/png", "bytes": len(data)})

    def attach_text(self, name: str, text: str) -> None:
        """Keep a text (a log, a decoded payload) as evidence."""
        with self._lock:
            self._texts[_unique(name, self._texts)] = text
        self.record("attachment", name, {"type": "text/plain", "characters": len(text)})

    def add_device_events(self, events: Iterable[Any], *, since: float | None = None) -> None:
        """Merge a device's events (objects with ``at``, ``name``, ``details`` and, on a virtual clock, ``wall``)
        from ``since`` on.

        An event the adapter already recorded as it happened (same time and name) is not recorded twice."""
        with self._lock:
            heard = Counter((e.at, e.name) for e in self._timeline if e.kind == "device")
        for event in _from(events, since):
            at = float(getattr(event, "at", 0.0))
            name = str(getattr(event, "name", event))
            if heard[(at, name)] > 0:  # recorded already, once for each time it was
                heard[(at, name)] -= 1
                continue
            wall = getattr(event, "wall", None)
            self.record("device", name, dict(getattr(event, "details", {}) or {}),
                        at=at, wall=float(wall) if isinstance(wall, int | float) else at)

    # -- reading ----------------------------------------------------------------------------------------

    @property
    def timeline(self) -> list[TimelineEntry]:
        """The entries so far, in time order (world clock, then wall clock: on a virtual clock many share an
        instant) (a copy)."""
        with self._lock:
            return sorted(self._timeline, key=lambda e: (e.at, e.wall))

    @property
    def images(self) -> dict[str, bytes]:
        with self._lock:
            return dict(self._images)

    @property
    def texts(self) -> dict[str, str]:
        with self._lock:
            return dict(self._texts)

    def timeline_json(self) -> list[dict[str, Any]]:
        """The timeline as redacted JSON-ready dicts: ``at`` (the world's clock), ``wall`` (ISO-8601), on a virtual
        clock ``offset_s`` (from the first entry), ``kind``, ``name``, ``details`` (:func:`for_people`)."""
        timeline = self.timeline
        origin = timeline[0].at if timeline and self.virtual else None
        entries = []
        for e in timeline:
            entry: dict[str, Any] = {"at": e.at, "wall": iso_time(e.wall)}
            if origin is not None:
                entry["offset_s"] = round(e.at - origin, 3)
            entry.update(kind=e.kind, name=e.name, details=for_people(dict(e.details)))
            entries.append(self.redactor.redact_obj(entry))
        return entries

    def timeline_text(self, entries: list[dict[str, Any]] | None = None) -> str:
        """The timeline as redacted lines, one per entry: ``<wall time> [+<virtual offset> s] <kind> <name>
        <details>`` (``entries``: already redacted by :meth:`timeline_json`, so that nothing is redacted twice)."""
        lines = [self.redactor.redact(f"# {self.tc_id} {self.nodeid}")]
        entries = self.timeline_json() if entries is None else entries
        if any("offset_s" in e for e in entries):
            lines.append("# wall time (UTC), then the virtual clock's time since the first entry")
        for entry in entries:
            details = entry["details"]
            shown = json.dumps(details, ensure_ascii=False, sort_keys=True, default=str) if details else ""
            offset = f" {'+' + format(entry['offset_s'], '.3f'):>11} s" if "offset_s" in entry else ""
            lines.append(f"{entry['wall']}{offset}  {entry['kind']:<10} {entry['name']} {shown}".rstrip())
        return "\n".join(lines) + "\n"

    def clean_images(self) -> dict[str, bytes]:
        """The images, each whose bytes or QR code hold a secret redrawn redacted (decoded once per image)."""
        clean: dict[str, bytes] = {}
        for name, data in self.images.items():
            key = (name, len(self.redactor))  # a secret learned since: look again
            with self._lock:
                done = self._clean_images.get(key)
            if done is None:
                done = self.redactor.redact_image(data)
                with self._lock:
                    self._clean_images[key] = done
            clean[name] = done
        return clean

    # -- writing ----------------------------------------------------------------------------------------

    def write(self, directory: Path) -> Path:
        """Write the timeline (JSON and text), images and texts under ``directory``, each redacted once."""
        directory.mkdir(parents=True, exist_ok=True)
        entries = self.timeline_json()
        (directory / "timeline.json").write_text(json.dumps(entries, ensure_ascii=False, indent=1, default=str),
                                                 encoding="utf-8")
        (directory / "timeline.txt").write_text(self.timeline_text(entries), encoding="utf-8")
        for name, data in self.clean_images().items():
            (directory / f"{safe_name(name)}.png").write_bytes(data)
        for name, text in self.texts.items():
            (directory / f"{safe_name(name)}.txt").write_text(self.redactor.redact(text), encoding="utf-8")
        self.path = directory
        return directory

    def attach_to_allure(self) -> None:
        """Attach the timeline, images and texts to the running Allure test (call only when allure is active)."""
        import allure

        allure.attach(self.timeline_text(), name="timeline", attachment_type=allure.attachment_type.TEXT)
        for name, data in self.clean_images().items():
            allure.attach(data, name=name, attachment_type=allure.attachment_type.PNG)
        for name, text in self.texts.items():
            allure.attach(self.redactor.redact(text), name=name, attachment_type=allure.attachment_type.TEXT)


def safe_name(name: str) -> str:
    """``name`` as a file name: letters, digits, dot, dash and underscore."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "evidence"


def _unique(name: str, taken: Mapping[str, Any]) -> str:
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name}-{n}"
    return candidate


# -- the recorder of the running test, and @step ----------------------------------------------------------

_state_lock = threading.Lock()
_current: EvidenceRecorder | None = None
_allure_thread: int | None = None


def activate(recorder: EvidenceRecorder | None, *, allure_steps: bool = False) -> None:
    """Make ``recorder`` the one :func:`step` records into (None: no test running).

    With ``allure_steps`` steps called on this thread also open Allure steps (Allure's step stack is
    per thread, so calls from other threads are recorded in the timeline only).
    """
    global _current, _allure_thread
    with _state_lock:
        _current = recorder
        _allure_thread = threading.get_ident() if (recorder is not None and allure_steps) else None


def current() -> EvidenceRecorder | None:
    """The recorder of the running test, if any."""
    return _current


def _describe(signature: inspect.Signature | None, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    if signature is None:
        return {}
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError:
        return {}
    shown: dict[str, Any] = {}
    for index, (name, value) in enumerate(bound.arguments.items()):
        if index == 0 and name in ("self", "cls"):
            continue
        if is_secret_key(name):
            shown[name] = MASK
            continue
        value = for_people(value, limit=_ARG_REPR_LIMIT)
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
        shown[name] = value if len(text) <= _ARG_REPR_LIMIT else text[: _ARG_REPR_LIMIT - 1] + "…"
    return shown


@overload
def step(title: F, /) -> F: ...
@overload
def step(title: str | None = None, /) -> Callable[[F], F]: ...


def step(title: Any = None, /) -> Any:
    """Record every call of the decorated adapter method in the running test's timeline (and Allure).

    ``@step`` or ``@step("present the QR code")``. Arguments named like secrets (``password``, ``auth_key``,
    ...) are masked; the others are shown as short reprs and redacted again when written.
    """
    if callable(title):
        return step(None)(title)

    def decorate(fn: F) -> F:
        try:
            signature: inspect.Signature | None = inspect.signature(fn)
        except (TypeError, ValueError):
            signature = None
        label = title or fn.__qualname__

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            recorder = _current
            if recorder is None:
                return fn(*args, **kwargs)
            owner = args[0] if args and signature is not None and "self" in signature.parameters else None
            name = f"{getattr(owner, 'name', '')} {label}".strip() if owner is not None else label
            details: dict[str, Any] = {"args": _describe(signature, args, kwargs)}
            at = recorder.now()
            started = time.perf_counter()
            try:
                if _allure_thread == threading.get_ident():
                    import allure

                    with allure.step(recorder.redactor.redact(name)):
                        result = fn(*args, **kwargs)
                else:
                    result = fn(*args, **kwargs)
            except BaseException as exc:
                details["raised"] = f"{type(exc).__name__}: {exc}"
                raise
            finally:
                details["wall_ms"] = round((time.perf_counter() - started) * 1000, 3)
                recorder.record("step", name, details, at=at)
            return result

        return wrapper  # type: ignore[return-value]

    return decorate


__all__ = ["EvidenceRecorder", "TimelineEntry", "activate", "current", "for_people", "iso_time", "safe_name", "step"]
