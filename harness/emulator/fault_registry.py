"""Named faults, one mechanism for every emulated component (DESIGN.md "Faults").

A fault is a subclass of a component's conformant class (the camera's ``EmulatedCamera``, the cloud's
``CloudBehaviour``) that overrides some of its small hook methods. A :class:`FaultRegistry` lists the named faults
of one component with what each breaks, and builds the class that makes several at once (multiple inheritance, in
the order named: each override calls ``super()``). A fault is named by its registered name or by a
``package.module:Class`` spec, so a fault written in a vendor's or a QA team's own module is used, and reported,
exactly like a built-in one.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Generic, TypeVar

B = TypeVar("B")
C = TypeVar("C", bound=type)

_IMPORT_LOCK = threading.Lock()


@dataclass(frozen=True)
class FaultEntry(Generic[B]):
    """A catalogue entry: the fault's name, what the component does wrong, and the requirement it breaks."""

    name: str
    description: str
    requirement: str
    cls: type[B]


@contextlib.contextmanager
def _extra_path(directories: Sequence[Path]) -> Iterator[None]:
    """``directories`` at the end of ``sys.path`` for the duration (so the Python path wins)."""
    added = [str(d) for d in directories if str(d) not in sys.path]
    sys.path.extend(added)
    try:
        yield
    finally:
        for entry in added:
            with contextlib.suppress(ValueError):
                sys.path.remove(entry)


def import_module(name: str, search_path: Sequence[Path] = ()) -> ModuleType:
    """Import module ``name`` from the Python path, else from ``search_path`` (a profile's directory, say).

    Any failure is a ValueError saying what could not be imported and why (a configuration error, not a crash).
    """
    with _IMPORT_LOCK:
        try:
            with _extra_path(search_path):
                return importlib.import_module(name)
        except Exception as exc:  # SyntaxError, a failing import inside the module, ...: the user's to fix
            where = f" (searched the Python path and {', '.join(map(str, search_path))})" if search_path else ""
            raise ValueError(f"cannot import module {name!r}{where}: {type(exc).__name__}: {exc}") from None


class FaultRegistry(Generic[B]):
    """The named faults of one component: ``entries`` maps a name to its :class:`FaultEntry`."""

    def __init__(self, kind: str, base: type[B], *, composed_name: str) -> None:
        self.kind = kind
        self.base = base
        self.composed_name = composed_name
        self.entries: dict[str, FaultEntry[B]] = {}

    def register(self, name: str, description: str, *, requirement: str) -> Callable[[C], C]:
        """Class decorator: list a fault subclass under ``name``; its ``fault_names`` become ``(name,)``."""
        def decorate(cls: C) -> C:
            decorated = cls
            if not issubclass(cls, self.base):
                raise TypeError(f"a {self.kind} fault subclasses {self.base.__name__}, not {cls!r}")
            existing = self.entries.get(name)
            if existing is not None and existing.cls is not cls:
                raise ValueError(f"a {self.kind} fault called {name!r} is already registered")
            if "fault_names" not in vars(cls):
                setattr(cls, "fault_names", (name,))  # noqa: B010 (the base declares it; C is any class here)
            self.entries[name] = FaultEntry(name, description, requirement, cls)
            return decorated

        return decorate

    def name_of(self, cls: type[B]) -> str:
        """The name a report gives a fault class: its registered name, else its ``module:Class`` spec."""
        return next((e.name for e in self.entries.values() if e.cls is cls), f"{cls.__module__}:{cls.__qualname__}")

    def resolve(self, fault: str | type[B], *, search_path: Sequence[Path] = ()) -> type[B]:
        """The class of one fault: a registered name, a ``package.module:Class`` spec or the class itself."""
        if isinstance(fault, type):
            if not issubclass(fault, self.base):
                raise TypeError(f"a {self.kind} fault is a name or a {self.base.__name__} subclass, not {fault!r}")
            return fault
        if not isinstance(fault, str):
            raise TypeError(f"a {self.kind} fault is a name or a {self.base.__name__} subclass, not {fault!r}")
        entry = self.entries.get(fault)
        if entry is not None:
            return entry.cls
        if ":" not in fault:
            raise ValueError(f"unknown {self.kind} fault {fault!r}; known: {', '.join(sorted(self.entries))} "
                             f"(or a package.module:Class spec)")
        return self._load(fault, search_path)

    def _load(self, spec: str, search_path: Sequence[Path]) -> type[B]:
        module_name, _, attribute = spec.partition(":")
        if not module_name or not attribute:
            raise ValueError(f"{self.kind} fault spec {spec!r}: expected package.module:Class")
        found: object = import_module(module_name, search_path)
        for part in attribute.split("."):
            if not hasattr(found, part):
                raise ValueError(f"{self.kind} fault spec {spec!r}: module {module_name!r} has no {attribute!r}")
            found = getattr(found, part)
        if not (isinstance(found, type) and issubclass(found, self.base) and found is not self.base):
            raise ValueError(f"{self.kind} fault spec {spec!r} is not a subclass of {self.base.__name__}")
        return found

    def compose(self, faults: Iterable[str | type[B]], *, search_path: Sequence[Path] = ()) -> type[B]:
        """The class that makes every one of ``faults`` (the conformant class when there are none)."""
        classes: list[type[B]] = []
        names: list[str] = []
        for fault in faults:
            cls = self.resolve(fault, search_path=search_path)
            if cls not in classes and cls is not self.base:
                classes.append(cls)
                names.append(self.name_of(cls))
        bases = tuple(classes)
        if not bases:
            return self.base
        if len(bases) == 1 and getattr(bases[0], "fault_names", ()) == tuple(names):
            return bases[0]
        try:
            composed: type[B] = type(self.composed_name, bases, {"fault_names": tuple(names)})
        except TypeError as exc:  # an inconsistent method resolution order
            raise ValueError(f"{self.kind} faults {names} do not combine: {exc}") from None
        return composed


__all__ = ["FaultEntry", "FaultRegistry", "import_module"]
