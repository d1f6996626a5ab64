"""The pieces under :mod:`harness.profiles.schema`: its error type, secret references, and pydantic error wording.

Kept apart so that the profile schema reads as a schema. Public names are re-exported by
:mod:`harness.profiles.schema`; import them from there.
"""

from __future__ import annotations

import difflib
import os
import re
import types
from collections.abc import Mapping, Sequence
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, GetCoreSchemaHandler, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails, core_schema

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

# Keys whose values may be secrets: an error about them never repeats the value it got.
_SECRET_KEYS = frozenset({"password", "uuid", "authkey", "args"})


class ProfileError(Exception):
    """A profile could not be loaded or used; each problem names the file, the dotted key and the expectation.

    ``str(error)`` is one line per problem: ``<file>: <key>: <what was expected>`` (the key is left out when
    the problem concerns the whole file, e.g. a TOML syntax error, which names the line and column instead).
    """

    def __init__(self, source: str, problems: Sequence[tuple[str, str]]) -> None:
        self.source = source
        self.problems: list[tuple[str, str]] = list(problems) or [("", "invalid profile")]
        super().__init__("\n".join(self.lines()))

    def lines(self) -> list[str]:
        """The problems, one line each."""
        return [f"{self.source}: {key}: {message}" if key else f"{self.source}: {message}"
                for key, message in self.problems]


class Section(BaseModel):
    """A profile table: unknown keys are errors (a typo must not silently drop a claim), types are strict."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def no_duplicates(values: list[str], key: str, problems: list[tuple[str, str]]) -> None:
    seen = [v for i, v in enumerate(values) if v in values[:i]]
    if seen:
        problems.append((key, f"expected each value once, got {sorted(set(seen))} more than once"))


class FieldProblems(ValueError):
    """Raised inside a model validator: problems keyed relative to the model being validated."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{key}: {message}" for key, message in problems))


class SecretRef:
    """A secret given as ``env:NAME``: only the reference is stored, printed, dumped and hashed.

    :meth:`resolve` reads the environment when the secret is needed and returns a :class:`~pydantic.SecretStr`,
    so that the value stays redacted in reprs and logs even after resolution.
    """

    __slots__ = ("_env", "_key", "_source")

    def __init__(self, env: str) -> None:
        if not _ENV_NAME.fullmatch(env):
            raise ValueError(f"expected an environment variable name, got {env!r}")
        self._env = env
        self._source = "<profile>"
        self._key = ""

    @classmethod
    def parse(cls, value: object) -> SecretRef:
        """Accept ``env:NAME`` (or a SecretRef); anything else is refused without repeating it."""
        if isinstance(value, SecretRef):
            return value
        if isinstance(value, str) and value.startswith("env:") and _ENV_NAME.fullmatch(value[4:]):
            return cls(value[4:])
        kind = "a string that is not an env:NAME reference" if isinstance(value, str) else type(value).__name__
        raise ValueError(f"expected an env:NAME reference to an environment variable (secrets never sit in the "
                         f"profile), got {kind}")

    @property
    def env(self) -> str:
        """The environment variable's name."""
        return self._env

    @property
    def reference(self) -> str:
        """``env:NAME``, as written in the profile."""
        return f"env:{self._env}"

    def bind(self, source: str, key: str) -> None:
        """Record the file and dotted key this reference was read from (for error messages)."""
        self._source = source
        self._key = key

    def resolve(self, environ: Mapping[str, str] | None = None) -> SecretStr:
        """The secret's value from ``environ`` (default: the process environment), or a ProfileError if unset."""
        env = os.environ if environ is None else environ
        value = env.get(self._env)
        if value is None:
            raise self.error(f"environment variable {self._env} is not set (expected it to hold the secret "
                             f"that {self.reference} refers to)")
        return SecretStr(value)

    def error(self, message: str) -> ProfileError:
        """A ProfileError about this secret, naming its file and key."""
        return ProfileError(self._source, [(self._key, message)])

    def __repr__(self) -> str:
        return f"SecretRef({self.reference!r})"

    def __str__(self) -> str:
        return self.reference

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretRef) and other._env == self._env

    def __hash__(self) -> int:
        return hash(("SecretRef", self._env))

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            cls.parse,
            serialization=core_schema.plain_serializer_function_ser_schema(lambda ref: ref.reference),
        )


def _unwrap(annotation: Any) -> Any:
    origin = get_origin(annotation)
    if origin is list:
        return _unwrap(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        members = [a for a in get_args(annotation) if a is not type(None)]
        return _unwrap(members[0]) if len(members) == 1 else annotation
    return annotation


def _is_model(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)


def _model_at(root: type[BaseModel], loc: Sequence[int | str]) -> type[BaseModel] | None:
    """The model class that the table at ``loc`` is validated as (None where the path leaves the models)."""
    model: Any = root
    for part in loc:
        if isinstance(part, int):
            continue
        if not _is_model(model) or part not in model.model_fields:
            return None
        model = _unwrap(model.model_fields[part].annotation)
    return model if _is_model(model) else None


def _field_at(root: type[BaseModel], loc: Sequence[int | str]) -> FieldInfo | None:
    """The field the value at ``loc`` belongs to (list indices belong to their list's field)."""
    keys = list(loc)
    while keys and isinstance(keys[-1], int):
        keys.pop()
    if not keys:
        return None
    holder = _model_at(root, keys[:-1])
    return holder.model_fields.get(str(keys[-1])) if holder is not None else None


def dotted(loc: Sequence[int | str]) -> str:
    """``('capabilities', 'pairing_modes', 2)`` -> ``capabilities.pairing_modes[2]``."""
    key = ""
    for part in loc:
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else part)
    return key


def _shown(value: Any, *, length: bool = False) -> str:
    if isinstance(value, str):
        text = value if len(value) <= 40 else value[:37] + "..."
        return f"{text!r} ({len(value)} characters)" if length else repr(text)
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return repr(value)


def _expected(error: ErrorDetails, field: FieldInfo | None) -> str:
    kind, msg = error["type"], error["msg"]
    if kind == "missing":
        return "required key is missing"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return "expected a table"
    if kind == "list_type":
        return "expected an array"
    if kind == "string_pattern_mismatch" and field is not None and field.description:
        return f"expected {field.description}"
    if kind.startswith("value_error"):
        return msg.removeprefix("Value error, ")
    if kind == "too_short":
        return f"expected at least {error.get('ctx', {}).get('min_length', 1)} item(s)"
    if msg.startswith("Input should be "):
        text = msg.removeprefix("Input should be ")
        if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
            text = "a number " + text
        return f"expected {text}"
    if msg.startswith("String should "):
        return "expected a string that should " + msg.removeprefix("String should ")
    return f"expected: {msg}"


def problems_from_validation_error(exc: ValidationError, root: type[BaseModel]) -> list[tuple[str, str]]:
    """pydantic's errors as (dotted key, expectation) pairs, in the wording of a profile author."""
    problems: list[tuple[str, str]] = []
    for error in exc.errors():
        loc = error["loc"]
        cause = error.get("ctx", {}).get("error")
        if isinstance(cause, FieldProblems):
            prefix = dotted(loc)
            problems.extend((f"{prefix}.{key}" if prefix else key, message) for key, message in cause.problems)
            continue
        key = dotted(loc)
        if error["type"] == "extra_forbidden":
            holder = _model_at(root, loc[:-1])
            allowed = sorted(holder.model_fields) if holder is not None else []
            message = "unknown key"
            close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
            if close:
                message += f" (did you mean '{close[0]}'?)"
            if allowed:
                message += f"; expected one of: {', '.join(allowed)}"
            problems.append((key, message))
            continue
        field = _field_at(root, loc)
        message = _expected(error, field)
        secret = any(part in _SECRET_KEYS for part in loc if isinstance(part, str))
        if error["type"] not in ("missing",) and not error["type"].startswith("value_error") and not secret:
            message += f", got {_shown(error['input'], length=error['type'] == 'string_pattern_mismatch')}"
        problems.append((key, message))
    return problems
