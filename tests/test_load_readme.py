"""The README's "Load" section as it is written: its `cloud serve` command, its one-machine `paircert load` and
its master and worker commands run on loopback (scaled down to a few devices for a few seconds, ports and hosts
made loopback's), and examples/load/docker-compose.yml's commands are `paircert`'s own, consistent with each other."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
import yaml
from _serve_helpers import PAIRCERT, Served, ServedCloud
from test_load import RUN_TIMEOUT_S, assert_held, run_dir_of, stats

from harness.emulator.cloud.cli import cli_command as cloud_command
from harness.load.cli import cli_command as load_command
from harness.load.launch import free_port

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
SECTION = README[README.index("## Load: "):README.index("## Against the production cloud")]
COMMANDS = [shlex.split(line, comments=True) for lang, code in re.findall(r"```(\w+)\n(.*?)```", SECTION, flags=re.S)
            if lang == "sh" for line in code.replace("\\\n", " ").splitlines() if line.strip()]
COMPOSE = ROOT / "examples" / "load" / "docker-compose.yml"
SCALED = {"--devices": "8", "--duration": "3s", "--rate": "20"}


def readme(*words: str) -> list[str]:
    """The README's command that starts with ``paircert <words>``: its arguments after them."""
    (argv,) = [c for c in COMMANDS if c[1:1 + len(words)] == list(words)]
    return argv[1 + len(words):]


def replaced(args: list[str], values: dict[str, str]) -> list[str]:
    out = [values.get(args[i - 1], arg) if i else arg for i, arg in enumerate(args)]
    return out + [arg for flag, value in values.items() if flag not in args for arg in (flag, value)]


class LabCloud(ServedCloud):
    """`paircert cloud serve` with the README's arguments, in the lab's directory, on loopback's free ports."""

    def __init__(self, lab: Path) -> None:
        args = ["--tls", *replaced(readme("cloud", "serve", "--tls"), {"--port": "0", "--mqtt-port": "0"})]
        self.urls: dict[str, str] = {}
        self.admin_key = None
        Served.__init__(self, ["cloud", "serve", "--host", "127.0.0.1", *args], ready=r"^serving", cwd=str(lab))


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    folder = tmp_path_factory.mktemp("lab")
    served = LabCloud(folder)
    try:
        yield folder, served.urls["app API"]
    finally:
        served.stop()


def env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("PAIRCERT_ADMIN_KEY", "PAIRCERT_OPENAPI_SECRET")}


def test_the_readme_has_the_six_load_commands() -> None:
    assert [c[:4] for c in COMMANDS] == [
        ["paircert", "cloud", "serve", "--tls"], ["paircert", "load", "--cloud", "https://127.0.0.1:8443/app/v1"],
        ["paircert", "load", "--master", "--expect-workers"], ["paircert", "load", "--worker", "--master-host"],
        ["paircert", "cloud", "serve", "--openapi-client-file"], ["paircert", "load", "--via", "openapi"]]


def test_the_readme_run_on_one_machine_with_two_local_workers_rebinding_and_resetting(lab: tuple[Path, str],
                                                                                     tmp_path: Path) -> None:
    folder, url = lab
    args = replaced(["--cloud", *readme("load", "--cloud")], {"--cloud": url, **SCALED, "--report-dir": str(tmp_path),
                                                              "--report-every": "0.3s", "--rebinds": "2",
                                                              "--resets": "2"})
    assert args[args.index("--workers") + 1] == "2"
    done = subprocess.run([*PAIRCERT, "load", *args], capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
                          cwd=folder, env=env())
    assert done.returncode == 0, done.stdout + done.stderr
    run_dir = run_dir_of(tmp_path)
    outcome = assert_held(run_dir, devices=8, processes=2)
    counted = stats(run_dir)
    assert counted.get(("APP", "remove device"), (0, 0))[0] + counted.get(("ATOP", "reset"), (0, 0))[0] >= 1
    assert counted[("ATOP", "re-activate")][0] >= 1
    assert outcome["devices"]["rebinds"] + outcome["devices"]["resets"] >= 1  # type: ignore[index]
    assert (run_dir / "locust-worker-1.log").exists() and (run_dir / "locust-worker-2.log").exists()


def test_the_readme_master_and_workers_run_on_loopback(lab: tuple[Path, str], tmp_path: Path) -> None:
    folder, url = lab
    port = str(free_port())
    master_args = replaced(readme("load", "--master"), {"--cloud": url, "--bind-host": "127.0.0.1",
                                                         "--bind-port": port, **SCALED, "--report-dir": str(tmp_path)})
    expected = int(master_args[master_args.index("--expect-workers") + 1])
    worker_args = replaced(readme("load", "--worker"), {"--cloud": url, "--master-host": "127.0.0.1",
                                                         "--master-port": port, "--worker-deadline": "90s",
                                                         "--report-dir": str(tmp_path / "workers")})
    master = subprocess.Popen([*PAIRCERT, "load", "--master", *master_args], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, cwd=folder, env=env())
    workers = [subprocess.Popen([*PAIRCERT, "load", "--worker", *worker_args], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, cwd=folder, env=env()) for _ in range(expected)]
    try:
        out, err = master.communicate(timeout=RUN_TIMEOUT_S)
        assert master.returncode == 0, out + err
        for worker in workers:
            worker_out, worker_err = worker.communicate(timeout=30)
            assert worker.returncode == 0, worker_out + worker_err
    finally:
        for proc in (master, *workers):
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
    assert f"a master for {expected} workers" in out
    assert_held(run_dir_of(tmp_path), devices=8, processes=expected)


def _params(command: click.Command, args: list[str]) -> dict[str, object]:
    with command.make_context(command.name or "", list(args), resilient_parsing=False) as ctx:
        return dict(ctx.params)


def test_the_compose_file_runs_paircert_commands_that_fit_together() -> None:
    services = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]
    cloud_args, master_args, worker_args = (services[name]["command"] for name in ("cloud", "master", "worker"))
    assert cloud_args[:2] == ["cloud", "serve"] and master_args[0] == worker_args[0] == "load"
    cloud = _params(cloud_command.commands["serve"], cloud_args[2:])  # type: ignore[attr-defined]
    master = _params(load_command, master_args[1:])
    worker = _params(load_command, worker_args[1:])
    assert cloud["tls"] and master["as_master"] and worker["as_worker"]
    assert master["expect_workers"] == services["worker"]["deploy"]["replicas"]
    assert worker["master_host"] == "master" and worker["master_port"] == master["bind_port"]
    assert master["cloud"] == worker["cloud"] == f"https://{cloud['advertise_host']}:{cloud['port']}/app/v1"
    assert str(master["ca"]) == str(worker["ca"]) == f"{cloud['ca_dir']}/ca.pem"
    assert master["admin_key_file"] == worker["admin_key_file"] == str(cloud["admin_key_file"])
    assert cloud["advertise_host"] in cloud["tls_names"]  # type: ignore[operator]


def test_the_readme_run_through_the_openapi_on_one_machine(tmp_path: Path) -> None:
    serve = replaced(readme("cloud", "serve", "--openapi-client-file"), {"--port": "0", "--mqtt-port": "0"})
    served = Served(["cloud", "serve", "--host", "127.0.0.1", "--openapi-client-file", *serve], ready=r"^serving",
                    cwd=str(tmp_path))
    try:
        [line] = [line for line in served.lines if line.startswith("OpenAPI ")]
        url = line.split()[1]
        client_file = serve[0]
        client_id = json.loads((tmp_path / client_file).read_text(encoding="utf-8"))["client_id"]
        args = replaced(readme("load", "--via", "openapi"), {"--cloud": url, "--client-id": client_id, **SCALED,
                                                             "--report-dir": str(tmp_path / "reports")})
        assert args[args.index("--secret-file") + 1] == client_file and args[args.index("--workers") + 1] == "2"
        done = subprocess.run([*PAIRCERT, "load", "--via", "openapi", *args], capture_output=True, text=True,
                              timeout=RUN_TIMEOUT_S, cwd=tmp_path, env=env())
    finally:
        served.stop()
    assert done.returncode == 0, done.stdout + done.stderr
    assert_held(run_dir_of(tmp_path / "reports"), devices=8, processes=2)
    assert "the cloud's device record has no report count" in done.stdout  # listed through the OpenAPI
