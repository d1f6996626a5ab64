"""The settings of a load run, in the two places they live.

Run-wide settings (how each device behaves, how long the run lasts) are Locust command-line arguments of the
master, named ``--paircert-*``: Locust hands custom arguments to every worker with its spawn order, so a worker on
another machine behaves as the master says. Machine-local settings are each process's environment, never sent over
Locust's channel: the cloud's URL as this machine reaches it (``PAIRCERT_LOAD_CLOUD``), the CA it trusts
(``PAIRCERT_LOAD_CA``) and the lab's admin key (``PAIRCERT_ADMIN_KEY``, a secret).

This module does not import Locust, so that ``paircert load`` can build the command lines without gevent's
monkey-patching.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, fields
from typing import Any, get_args

from harness.emulator.camera.activation import ActivationApi
from harness.protocol import mqtt as mq

CLOUD_ENV = "PAIRCERT_LOAD_CLOUD"
CA_ENV = "PAIRCERT_LOAD_CA"
SECRET_ENV = "PAIRCERT_OPENAPI_SECRET"
#: Machine-local settings of ``--via openapi`` and ``--licences`` (none of them a secret), by environment variable.
OPTION_ENVS = {"client_id": "PAIRCERT_LOAD_CLIENT_ID", "schema": "PAIRCERT_LOAD_SCHEMA",
               "url_config": "PAIRCERT_LOAD_URL_CONFIG", "lab": "PAIRCERT_LOAD_LAB",
               "licences": "PAIRCERT_LOAD_LICENCES", "product_id": "PAIRCERT_LOAD_PRODUCT",
               "claims": "PAIRCERT_LOAD_CLAIMS"}
VIAS = ("app", "openapi")
ACTIVATION_APIS: tuple[str, ...] = get_args(ActivationApi)
MQTT_VERSIONS: tuple[str, ...] = get_args(mq.ProtocolVersion)


@dataclass(frozen=True)
class RunSettings:
    """How the devices of a run behave and how the run ends.

    Each device takes a step every ``report_every_s`` seconds: a DP report, or (by weight against ``report_weight``)
    an app command round trip, a rebind or a reset. The master stops the devices ``duration_s`` after spawning
    starts, then gives the cloud up to ``settle_s`` to record what the broker acknowledged before the invariants
    are judged. ``results`` is where the master (or a lone process) writes the run's outcome as JSON.
    """

    duration_s: float = 10.0
    report_every_s: float = 1.0
    report_weight: int = 10
    command_weight: int = 2
    rebind_weight: int = 0
    reset_weight: int = 0
    timeout_s: float = 10.0
    settle_s: float = 10.0
    activation_api: str = "v4.4"
    mqtt_pv: str = "2.2"
    via: str = "app"
    results: str = ""

    def __post_init__(self) -> None:
        if self.duration_s <= 0 or self.report_every_s <= 0 or self.timeout_s <= 0 or self.settle_s < 0:
            raise ValueError("duration, step interval and timeout must be positive, settle time not negative")
        weights = (self.report_weight, self.command_weight, self.rebind_weight, self.reset_weight)
        if min(weights) < 0 or sum(weights) == 0:
            raise ValueError("step weights must be non-negative and not all 0")
        if self.activation_api not in ACTIVATION_APIS:
            raise ValueError(f"activation API {self.activation_api!r} is not one of {', '.join(ACTIVATION_APIS)}")
        if self.mqtt_pv not in MQTT_VERSIONS:
            raise ValueError(f"MQTT protocol version {self.mqtt_pv!r} is not one of {', '.join(MQTT_VERSIONS)}")
        if self.via not in VIAS:
            raise ValueError(f"--via {self.via!r} is not one of {', '.join(VIAS)}")

    @property
    def weights(self) -> dict[str, int]:
        return {"report": self.report_weight, "command": self.command_weight, "rebind": self.rebind_weight,
                "reset": self.reset_weight}

    def locust_args(self) -> list[str]:
        """These settings as the master's Locust arguments."""
        args: list[str] = []
        for f in fields(self):
            args += [_flag(f.name), str(getattr(self, f.name))]
        return args

    @classmethod
    def from_options(cls, options: argparse.Namespace | Any) -> RunSettings:
        """The settings Locust parsed (or received from the master)."""
        return cls(**{f.name: _cast(f.name, getattr(options, _dest(f.name))) for f in fields(cls)})


def _flag(name: str) -> str:
    return "--paircert-" + name.removesuffix("_s").replace("_", "-")


def _dest(name: str) -> str:
    return "paircert_" + name.removesuffix("_s")


_DEFAULTS = RunSettings()


def _cast(name: str, value: Any) -> Any:
    default = getattr(_DEFAULTS, name)
    return type(default)(value)


def add_locust_arguments(parser: Any) -> None:
    """The ``--paircert-*`` arguments on Locust's parser (its ``init_command_line_parser`` event); kept out of
    Locust's web UI, which has nothing to do with them."""
    for f in fields(RunSettings):
        default = getattr(_DEFAULTS, f.name)
        parser.add_argument(_flag(f.name), dest=_dest(f.name), type=type(default), default=default,
                            include_in_web_ui=False, help=f"paircert load: {f.name.replace('_', ' ')}")


@dataclass(frozen=True)
class MachineSettings:
    """What one machine's processes take from their own environment: the cloud, its CA, the admin key, and for
    ``--via openapi`` or ``--licences`` the project's client id and secret, the OEM app schema, where devices learn
    their endpoints, the lab's app API, the licences file, its product and the claims file of the run."""

    cloud: str
    ca: str | None
    admin_key: str | None
    secret: str | None = None
    client_id: str | None = None
    schema: str | None = None
    url_config: str | None = None
    lab: str | None = None
    licences: str | None = None
    product_id: str | None = None
    claims: str | None = None

    @classmethod
    def from_env(cls) -> MachineSettings:
        cloud = os.environ.get(CLOUD_ENV, "").strip()
        if not cloud:
            raise ValueError(f"${CLOUD_ENV} names no cloud: start the load processes with `paircert load`")
        from harness.load.app import ADMIN_KEY_ENV

        options = {name: os.environ.get(env) or None for name, env in OPTION_ENVS.items()}
        return cls(cloud, os.environ.get(CA_ENV) or None, os.environ.get(ADMIN_KEY_ENV) or None,
                   os.environ.get(SECRET_ENV) or None, **options)


__all__ = ["CA_ENV", "CLOUD_ENV", "OPTION_ENVS", "SECRET_ENV", "VIAS", "MachineSettings", "RunSettings",
           "add_locust_arguments"]
