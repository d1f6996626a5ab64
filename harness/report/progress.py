"""What ``paircert run`` shows while it runs and when it ends: rich tables per area, or plain lines for CI logs."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from harness.report.results import RunState, area_of
from harness.report.summary import VERDICT_ORDER, RunSummary, TestCaseResult

STYLES = {"PASS": "green", "FAIL": "bold red", "ERROR": "bold yellow", "N/A": "dim", "INCONCLUSIVE": "magenta"}
_MESSAGE_WIDTH = 100


def progress_table(state: RunState, elapsed_s: float, results: Iterable[TestCaseResult]) -> Table:
    """A row per area: passed, failed, errors, N/A, inconclusive, running."""
    per_area: dict[str, Counter[str]] = {}
    finished = list(results)
    for result in finished:
        per_area.setdefault(result.area, Counter())[result.verdict] += 1
    for nodeid in state.running:
        per_area.setdefault(area_of("", nodeid), Counter())["running"] += 1
    total = len(state.collected)
    title = f"paircert run · {len(finished)}" + (f"/{total}" if total else "") + f" done · {elapsed_s:.0f} s"
    table = Table(title=title, title_justify="left")
    table.add_column("area")
    for header, style in (("passed", "green"), ("failed", "red"), ("errors", "yellow"), ("N/A", "dim"),
                          ("inconclusive", "magenta"), ("running", "cyan")):
        table.add_column(header, justify="right", style=style)
    for area in sorted(per_area):
        c = per_area[area]
        table.add_row(area, *(str(c[k]) for k in ("PASS", "FAIL", "ERROR", "N/A", "INCONCLUSIVE", "running")))
    return table


class Progress:
    """Live progress: a rich table redrawn in place on a terminal, one plain line per test elsewhere."""

    def __init__(self, console: Console, *, live: bool) -> None:
        self.console = console
        self.live_enabled = live and console.is_terminal
        self._live: Live | None = None

    def __enter__(self) -> Progress:
        if self.live_enabled:
            self._live = Live(console=self.console, refresh_per_second=4, transient=True)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._live is not None:
            self._live.__exit__(*exc)
            self._live = None

    def pause(self) -> None:
        """Stop redrawing (a prompt needs the terminal); :meth:`resume` starts again."""
        if self._live is not None:
            self._live.stop()

    def resume(self) -> None:
        if self._live is not None:
            self._live.start()

    def update(self, state: RunState, elapsed_s: float, new: list[TestCaseResult]) -> None:
        if self._live is not None:
            self._live.update(progress_table(state, elapsed_s, state.merged()))
            return
        for result in new:
            line = Text()
            line.append(f"{result.verdict:<12}", style=STYLES.get(result.verdict, ""))
            line.append(f" {label(result)}  {result.duration_s:.2f}s")
            if result.message and result.verdict != "PASS":
                line.append(f"  {_short(result.message)}", style="dim")
            self.console.print(line, highlight=False, soft_wrap=True)


def label(result: TestCaseResult) -> str:
    """The TC id, with the case's parameters when the test is parametrized (``TC-QR-003[pst]``)."""
    head, bracket, params = result.nodeid.partition("[")
    return f"{result.tc}[{params}" if bracket and head else result.tc


def _short(text: str) -> str:
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first if len(first) <= _MESSAGE_WIDTH else first[: _MESSAGE_WIDTH - 1] + "…"


def verdict_tables(summary: RunSummary) -> Group:
    """The end-of-run view: counts per area, then every test case that did not PASS or N/A."""
    areas = Table(title=f"Verdicts · profile {summary.profile.get('profile', '')} · run {summary.run_id}",
                  title_justify="left")
    areas.add_column("area")
    for verdict in VERDICT_ORDER:
        areas.add_column(verdict, justify="right", style=STYLES[verdict])
    for area, results in summary.by_area().items():
        counts = Counter(r.verdict for r in results)
        areas.add_row(area, *(str(counts[v]) for v in VERDICT_ORDER))
    areas.add_row(Text("total", style="bold"), *(str(summary.counts.get(v, 0)) for v in VERDICT_ORDER))
    parts: list[Any] = [areas]
    notable = [r for r in summary.results if r.verdict in ("FAIL", "ERROR", "INCONCLUSIVE")]
    if notable:
        detail = Table(title="Did not pass", title_justify="left")
        detail.add_column("TC")
        detail.add_column("verdict")
        detail.add_column("message", overflow="fold")
        for result in notable:
            detail.add_row(label(result), Text(result.verdict, style=STYLES[result.verdict]), _short(result.message))
        parts.append(detail)
    overall = Text("Overall: ", style="bold")
    overall.append(summary.verdict, style=STYLES.get(summary.verdict, "bold"))
    if summary.interrupted:
        overall.append(f"  (interrupted: {summary.interruption}; {len(summary.not_run)} not run)", style="yellow")
    parts.append(overall)
    return Group(*parts)


__all__ = ["Progress", "label", "progress_table", "verdict_tables"]
