"""Named deviations of the app-side activator: the third part of the fault zoo (DESIGN.md "Faults").

The delegate requirements (REQ-DELEGATE-*) are obligations of the app side: the ThingSmartActivator of the seed
document, which paircert's :class:`~harness.app.activator.Activator` implements. No camera or cloud can make a
conformant activator call its delegate twice or after a stop, so the faults that prove the delegate suite can
fail are faulty activators. So is a QR code that breaks REQ-QR-001 yet pairs a tolerant camera: only TC-QR-001,
which decodes the image the activator showed, can tell. Each is a subclass that gets one thing wrong, the way
app SDKs do; the self-check runs the suites with one in place of the real activator (a world's
``activator_class``) and requires the TCs of the broken requirement to FAIL.

:data:`ACTIVATOR_FAULTS` lists them; :func:`activator_class` builds the class for a list of names.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import TypeVar

from harness.app.activator import Activator, ActivatorError, ActivatorMode, ActivatorStep, DeviceModel
from harness.model import ActivatorErrorCode
from harness.protocol.qr import QrPayload


@dataclass(frozen=True)
class ActivatorFault:
    """A catalogue entry: the fault's name, what the activator does wrong, and the requirement it breaks."""

    name: str
    description: str
    requirement: str
    cls: type[Activator]


ACTIVATOR_FAULTS: dict[str, ActivatorFault] = {}

A = TypeVar("A", bound=type[Activator])


def _fault(name: str, description: str, requirement: str) -> Callable[[A], A]:
    def decorate(cls: A) -> A:
        if name in ACTIVATOR_FAULTS:
            raise ValueError(f"an activator fault called {name!r} is already registered")
        ACTIVATOR_FAULTS[name] = ActivatorFault(name, description, requirement, cls)
        return cls

    return decorate


def activator_class(faults: Iterable[str] = ()) -> type[Activator]:
    """The activator class that makes every one of ``faults`` (names from :data:`ACTIVATOR_FAULTS`)."""
    classes: list[type[Activator]] = []
    for name in faults:
        if name not in ACTIVATOR_FAULTS:
            known = ", ".join(sorted(ACTIVATOR_FAULTS))
            raise ValueError(f"unknown activator fault {name!r}; known: {known}")
        classes.append(ACTIVATOR_FAULTS[name].cls)
    if not classes:
        return Activator
    if len(classes) == 1:
        return classes[0]
    return type("FaultyActivator", tuple(dict.fromkeys(classes)), {})


@_fault("repeats-failure-callback", "a failed start is reported to the delegate twice",
        "REQ-DELEGATE-001: exactly one did_receive_device per start")
class RepeatsFailureCallback(Activator):
    def _finish(self, run: int, model: DeviceModel | None, error: ActivatorError | None) -> None:
        super()._finish(run, model, error)
        if error is not None and self.delegate is not None and self._run == run:
            self.delegate.did_receive_device(self, model, error)


@_fault("error-with-partial-model", "a failure after the device registered carries its model as well as the error",
        "REQ-DELEGATE-002: a model and no error, or an error and no model")
class ErrorWithPartialModel(Activator):
    def _finish(self, run: int, model: DeviceModel | None, error: ActivatorError | None) -> None:
        if error is not None and model is None:
            model = self._partial
        super()._finish(run, model, error)

    def _step(self, run: int, step: ActivatorStep, model: DeviceModel | None) -> None:
        if model is not None:
            self._partial = model
        super()._step(run, step, model)

    _partial: DeviceModel | None = None


@_fault("reports-stop-as-failure", "stop_config_wifi makes the delegate hear a cancellation error",
        "REQ-DELEGATE-003: nothing is delivered for a stopped start")
class ReportsStopAsFailure(Activator):
    def stop_config_wifi(self) -> None:
        was_running = self.running
        super().stop_config_wifi()
        if was_running and self.delegate is not None:
            self.delegate.did_receive_device(
                self, None, ActivatorError(ActivatorErrorCode.COMMON_DEVICE_ACTIVE, "pairing was cancelled"))


@_fault("stale-stop-answers-next-start", "the start after a stop is answered with the stopped start's cancellation",
        "REQ-DELEGATE-004: a start after a stop runs normally and gets its own callback")
class StaleStopAnswersNextStart(Activator):
    _stopped_pending = False

    def stop_config_wifi(self) -> None:
        self._stopped_pending = self.running
        super().stop_config_wifi()

    def start_config_wifi(self, mode: ActivatorMode | str, ssid: str, password: str, token: str,
                          timeout: float = 100.0) -> None:
        super().start_config_wifi(mode, ssid, password, token, timeout)
        if self._stopped_pending:
            self._stopped_pending = False
            self._finish(self._run, None, ActivatorError(ActivatorErrorCode.COMMON_DEVICE_ACTIVE,
                                                         "pairing was cancelled"))


@_fault("success-before-online", "success is reported once the device is activated, without waiting for MQTT",
        "REQ-DELEGATE-005: success only when activated in the token's home and online")
class SuccessBeforeOnline(Activator):
    def _step(self, run: int, step: ActivatorStep, model: DeviceModel | None) -> None:
        super()._step(run, step, model)
        if step is ActivatorStep.REGISTERED and model is not None:
            self._finish(run, model, None)


@_fault("timeout-reported-as-3709", "a start nobody completes ends in 3709 (DeviceNotConnectMQTT), not 1512",
        "REQ-DELEGATE-006: no device within the timeout is error 1512")
class TimeoutReportedAs3709(Activator):
    def _finish(self, run: int, model: DeviceModel | None, error: ActivatorError | None) -> None:
        if error is not None and error.code == ActivatorErrorCode.TIMEOUT:
            error = ActivatorError(ActivatorErrorCode.DEVICE_NOT_CONNECT_MQTT, "the device did not connect to MQTT")
        super()._finish(run, model, error)


@_fault("model-carries-uuid-as-dev-id", "the success model's device id is the licence UUID, not the devId",
        "REQ-DELEGATE-008: the model is the device that was activated")
class ModelCarriesUuidAsDevId(Activator):
    def _finish(self, run: int, model: DeviceModel | None, error: ActivatorError | None) -> None:
        if model is not None and model.uuid:
            model = replace(model, dev_id=model.uuid)
        super()._finish(run, model, error)


@_fault("qr-pretty-printed-json", "the QR text is json.dumps with its default separators: a space after every : and ,",
        "REQ-QR-001: the QR code carries compact JSON")
class QrPrettyPrintedJson(Activator):
    def _qr_text(self, ssid: str, password: str, token: str) -> str:
        values = {"s": ssid, "p": password, "t": token}
        text = json.dumps({key: values[key] for key in self.qr.key_order}, ensure_ascii=self.qr.ascii_only)
        return text.replace("/", "\\/") if self.qr.escape_slash else text  # as QrPayload.to_text escapes


@_fault("qr-extra-version-member", "the QR object carries a version member \"v\":\"2.0\" after s, p and t",
        "REQ-QR-001: exactly the members s, p and t")
class QrExtraVersionMember(Activator):
    def _qr_text(self, ssid: str, password: str, token: str) -> str:
        return QrPayload(ssid, password, token, extras=(("v", '"2.0"'),)).to_text(
            key_order=self.qr.key_order, escape_slash=self.qr.escape_slash, ascii_only=self.qr.ascii_only)


__all__ = ["ACTIVATOR_FAULTS", "ActivatorFault", "activator_class"]
