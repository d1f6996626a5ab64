"""What each emulated device of a load run knows about itself, and the invariants checked against the cloud at the end.

A device keeps a :class:`DeviceLedger`: whether the cloud must now hold it bound (it got a successful activation
answer and nothing unbound it since), must not (it was refused, removed or reset, and the cloud confirmed it), or may
either way (an activation, removal or reset was cut off before its answer: the run stopped, a timeout). It also counts
the DP reports the broker acknowledged since its latest activation and the value of the last one.

At the end, :func:`check_invariants` compares every ledger with the device lists of the run's homes, as the cloud
answers them through its app API:

- **bound exactly once**: a device that must be bound is listed exactly once, with the devId and in the home its
  activation answer gave, and the cloud recorded as many activations of it as it was answered;
- **no device lost or duplicated**: no devId or licence listed twice, nothing listed that no device of the run
  activated, nothing listed that must not be bound;
- **every acknowledged DP report recorded**: the cloud holds the value of the device's last acknowledged report
  (or of a later one the device sent, whose acknowledgement the end of the run cut off), and, where it counts
  reports (``reports`` in its device record, as ``paircert cloud serve`` does), at least as many as the broker
  acknowledged since the activation.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from harness.errors import HarnessError

Expected = Literal["bound", "unbound", "unknown"]
#: The DP a device's periodic reports count in (its value is the report's sequence number) and the DP the app's
#: commands set. Ids outside the camera's own DPs (101, 103, 106, 134), so the two never mix.
SEQ_DP = "151"
COMMAND_DP = "152"
EXAMPLES = 5


@dataclass
class DeviceLedger:
    """One device's own account of a run (sent from worker to master at the end, so plain JSON types only)."""

    uuid: str
    worker: str = ""
    expected: Expected = "unbound"
    dev_id: str | None = None
    home: str | None = None
    activations: int = 0        # successful activation answers
    refusals: int = 0           # refused activation answers
    unanswered: int = 0         # activation requests that got no answer (timeouts, cut off)
    reports_acked: int = 0      # DP reports the broker acknowledged since the latest activation
    reports_total: int = 0      # DP reports the broker acknowledged in the whole run
    last_seq: int | None = None  # the SEQ_DP value of the last acknowledged periodic report since then
    sent_seq: int | None = None  # the SEQ_DP value of the last report sent since then (its PUBACK may not have come)
    commands: int = 0           # app commands the device received and answered
    rebinds: int = 0
    resets: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> DeviceLedger:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in raw.items() if k in known})


@dataclass
class Invariant:
    """One invariant's outcome: how many devices it looked at, how many broke it, and a few of them."""

    name: str
    checked: int = 0
    broken: int = 0
    examples: list[str] = field(default_factory=list)
    note: str = ""

    @property
    def holds(self) -> bool:
        return self.broken == 0

    def fail(self, text: str) -> None:
        self.broken += 1
        if len(self.examples) < EXAMPLES:
            self.examples.append(text)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "holds": self.holds}


BOUND_ONCE = "bound exactly once"
NO_LOSS_OR_DUPLICATE = "no device lost or duplicated"
REPORTS_RECORDED = "every acknowledged DP report recorded"


def _activations_recorded(row: Mapping[str, Any]) -> int | None:
    """The cloud's count of the device's activations: its history's (app API), else ``activations`` (the OpenAPI's
    log count); None when the row has neither."""
    counted = row.get("activations")
    if isinstance(counted, int) and not isinstance(counted, bool) and "history" not in row:
        return counted
    history = row.get("history")
    if not isinstance(history, list):
        return None
    return sum(1 for event in history if isinstance(event, Mapping) and event.get("event") == "activated")


def _check_bound_once(ledgers: Sequence[DeviceLedger], by_uuid: Mapping[str, list[Mapping[str, Any]]]) -> Invariant:
    result = Invariant(BOUND_ONCE)
    for ledger in ledgers:
        if ledger.expected != "bound":
            continue
        result.checked += 1
        rows = by_uuid.get(ledger.uuid, [])
        if len(rows) != 1:
            result.fail(f"{ledger.uuid} (devId {ledger.dev_id}) is listed {len(rows)} times, not once")
            continue
        row = rows[0]
        if row.get("devId") != ledger.dev_id or row.get("home") != ledger.home:
            result.fail(f"{ledger.uuid} is listed as {row.get('devId')} in home {row.get('home')}; its activation "
                        f"answered {ledger.dev_id} in home {ledger.home}")
            continue
        recorded = _activations_recorded(row)
        if recorded is not None and ledger.unanswered == 0 and recorded != ledger.activations:
            result.fail(f"{ledger.uuid}: the cloud recorded {recorded} activations, the device was answered "
                        f"{ledger.activations}")
    return result


def _check_no_loss_or_duplicate(ledgers: Sequence[DeviceLedger], rows: Sequence[Mapping[str, Any]],
                                by_uuid: Mapping[str, list[Mapping[str, Any]]]) -> Invariant:
    result = Invariant(NO_LOSS_OR_DUPLICATE, checked=len(ledgers))
    known = {ledger.uuid: ledger for ledger in ledgers}
    for dev_id, count in Counter(str(row.get("devId")) for row in rows).items():
        if count > 1:
            result.fail(f"devId {dev_id} is listed {count} times")
    for uuid, listed in by_uuid.items():
        ledger = known.get(uuid)
        if ledger is None:
            result.fail(f"{uuid} is listed in the run's homes ({len(listed)} times), but no device of the run is it")
        elif len(listed) > 1 and ledger.expected != "bound":  # "bound" ones are counted by BOUND_ONCE
            result.fail(f"{uuid} is listed {len(listed)} times")
        elif ledger.expected == "unbound":
            result.fail(f"{uuid} is listed (as {listed[0].get('devId')}) though the cloud answered that it is not "
                        f"bound (refused {ledger.refusals}, rebound {ledger.rebinds}, reset {ledger.resets})")
    missing = [ledger for ledger in ledgers if ledger.expected == "bound" and ledger.uuid not in by_uuid]
    for ledger in missing:
        result.fail(f"{ledger.uuid} (devId {ledger.dev_id}) was answered an activation and is not listed: lost")
    return result


def _within(held: Any, acked: int, sent: int | None) -> bool:
    """The cloud holds the last acknowledged report, or a later one that was sent."""
    if not isinstance(held, int) or isinstance(held, bool):
        return False
    return acked <= held <= max(acked, sent if sent is not None else acked)


def _check_reports(ledgers: Sequence[DeviceLedger], by_uuid: Mapping[str, list[Mapping[str, Any]]]) -> Invariant:
    result = Invariant(REPORTS_RECORDED)
    counted = 0
    for ledger in ledgers:
        rows = by_uuid.get(ledger.uuid, [])
        if ledger.expected != "bound" or len(rows) != 1 or ledger.reports_acked == 0:
            continue
        result.checked += 1
        row = rows[0]
        dps = row.get("dps") if isinstance(row.get("dps"), Mapping) else {}
        if not isinstance(dps, Mapping):
            raise HarnessError("broken invariant: isinstance(dps, Mapping)")
        held = dps.get(SEQ_DP)
        if ledger.last_seq is not None and not _within(held, ledger.last_seq, ledger.sent_seq):
            result.fail(f"{ledger.uuid}: the cloud holds report {held!r}, the broker acknowledged "
                        f"report {ledger.last_seq} last")
            continue
        reports = row.get("reports")
        if isinstance(reports, int) and not isinstance(reports, bool):
            counted += 1
            if reports < ledger.reports_acked:
                result.fail(f"{ledger.uuid}: the cloud recorded {reports} DP reports, the broker acknowledged "
                            f"{ledger.reports_acked}")
    if result.checked and counted < result.checked:
        result.note = (f"{result.checked - counted} of {result.checked} devices checked by their last report only: "
                       "the cloud's device record has no report count")
    return result


def check_invariants(ledgers: Iterable[DeviceLedger], rows: Iterable[Mapping[str, Any]]) -> list[Invariant]:
    """The three invariants of a run: ``ledgers`` from every device, ``rows`` the devices the cloud lists in the
    run's homes (its app API's device records: devId, uuid, home, dps, history, reports)."""
    ledgers = list(ledgers)
    rows = list(rows)
    by_uuid: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for row in rows:
        by_uuid[str(row.get("uuid"))].append(row)
    return [_check_bound_once(ledgers, by_uuid), _check_no_loss_or_duplicate(ledgers, rows, by_uuid),
            _check_reports(ledgers, by_uuid)]


def tally(ledgers: Iterable[DeviceLedger]) -> dict[str, int]:
    """The run's device counts for the summary."""
    counts: Counter[str] = Counter()
    for ledger in ledgers:
        counts["devices"] += 1
        counts[f"expected {ledger.expected}"] += 1
        for key in ("activations", "refusals", "unanswered", "reports_total", "commands", "rebinds", "resets"):
            counts[key] += getattr(ledger, key)
    return dict(counts)


__all__ = ["BOUND_ONCE", "COMMAND_DP", "NO_LOSS_OR_DUPLICATE", "REPORTS_RECORDED", "SEQ_DP", "DeviceLedger", "Expected",
           "Invariant", "check_invariants", "tally"]
