"""Several processes over one shared SQLite state (what ``cloud serve --workers N`` runs on): the decisions stay as
serial as in one process, with read-only lookups outside the write lock and one write transaction per activation."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

from harness.clock import SystemClock
from harness.emulator.cloud.state import CloudState
from harness.emulator.cloud.store import SqliteStore
from harness.protocol.atop import ActivationRequest

PROCESSES = 2
TOKENS = 40
RACE_TIMEOUT_S = 60.0


def _request(token: str, pid: str) -> ActivationRequest:
    return ActivationRequest(token=token, soft_ver="1.0.0", product_key=pid, protocol_ver="2.2",
                             baseline_ver="40.00", options='{"isFK":true}', cad_ver="1.0.2", cd_ver="1.0.0",
                             t=1_700_000_000, hid="0123456789ab", extras={})


def _open(path: Path) -> CloudState:
    return CloudState(clock=SystemClock(), token_ttl_s=3600.0, store=SqliteStore(path, shared=True))


def _racer(path: str, uuids: list[str], tokens: list[str], pid: str, start: Any, out: Any) -> None:
    """Open the shared state, wait for the other racer, then try every token with a licence of this process's
    own: (token, devId or error) per try."""
    state = _open(Path(path))
    start.wait(RACE_TIMEOUT_S)
    got = []
    for uuid, token in zip(uuids, tokens, strict=True):
        outcome = state.activate(uuid, _request(token, pid), protocol_ver="2.2")
        got.append((token, outcome.result.dev_id if outcome.result is not None else str(outcome.error)))
    state.close()
    out.put(got)


def _world(path: Path, licences: int, tokens: int) -> tuple[CloudState, str, list[str], list[str]]:
    state = _open(path)
    product = state.create_product(name="cam", category="sp")
    owner = state.create_account("owner")
    home = state.create_home(owner.account_id, "home")
    uuids = [state.issue_licence(product.pid).uuid for _ in range(licences)]
    issued = [state.create_token(home.home_id, owner.account_id).token for _ in range(tokens)]
    return state, product.pid, uuids, issued


def test_processes_racing_each_token_bind_exactly_one_device_per_token_and_record_every_try(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    state, pid, uuids, tokens = _world(path, PROCESSES * TOKENS, TOKENS)
    state.close()
    ctx = multiprocessing.get_context("spawn")
    start, out = ctx.Barrier(PROCESSES), ctx.Queue()
    racers = [ctx.Process(target=_racer, args=(str(path), uuids[n * TOKENS:(n + 1) * TOKENS], tokens, pid, start,
                                               out)) for n in range(PROCESSES)]
    for racer in racers:
        racer.start()
    answers = [out.get(timeout=RACE_TIMEOUT_S) for _ in racers]
    for racer in racers:
        racer.join(RACE_TIMEOUT_S)
        assert racer.exitcode == 0
    for token in tokens:  # each token: one process bound a device, every other was refused as used (§4.3)
        outcomes = [outcome for got in answers for t, outcome in got if t == token]
        assert len(outcomes) == PROCESSES
        assert sum(1 for o in outcomes if o.startswith("pc")) == 1, (token, outcomes)
    reopened = _open(path)
    try:
        bound = [d for d in reopened.devices.values() if d.bound]
        assert len(bound) == TOKENS and all(d.protocol_ver == "2.2" for d in bound)
        for token in tokens:
            assert reopened.tokens[token].consumed_at is not None
            kinds = sorted(a.outcome for a in reopened.token_attempts(token))
            assert kinds == ["activated"] + ["refused"] * (PROCESSES - 1), (token, kinds)
    finally:
        reopened.close()


def test_a_licence_issued_or_revoked_in_one_process_is_known_to_another(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    first, pid, (uuid,), (token,) = _world(path, 1, 1)
    second = _open(path)
    try:
        late = first.issue_licence(pid)  # written after the second process loaded the state
        assert second.licence_key(late.uuid) == late.auth_key  # a read-only lookup, outside the write lock
        first.revoke_licence(late.uuid)
        refused = second.activate(late.uuid, _request(token, pid))
        assert refused.result is None and refused.error is not None and refused.error.value == "LICENSE_REVOKED"
        won = second.activate(uuid, _request(token, pid))
        assert won.result is not None
        assert first.device_key(won.result.dev_id) == won.result.sec_key  # the secKey the other process issued
        again = first.activate(uuid, _request(token, pid))  # the token the other process consumed
        assert again.result is None and again.error is not None and again.error.value == "EXPIRE"
    finally:
        first.close()
        second.close()
