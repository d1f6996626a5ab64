"""Camera faults of activation: the token split, the activation body, the devId (PROTOCOL.md §1.4, §4, §6)."""

from __future__ import annotations

from typing import Any

from harness.emulator.camera.firmware import Activation, CloudEndpoint, EmulatedCamera
from harness.emulator.camera.pairing import PairingConfig

from .registry import builtin as _fault


@_fault("token-split-wrong", "splits the 14-character token 3/8/3 instead of 2/8/4",
        "PROTOCOL.md §1.4: region [0,2), token [2,10), secret [10,14)")
class TokenSplitWrong(EmulatedCamera):
    def split_token(self, text: str) -> tuple[str, str, str]:
        return text[:3], text[3:11], text[11:14]


@_fault("token-whole-first", "activates first with the whole 14-character token string (as an AP frame carries "
        "it) and, when that is refused, again with the 8-character token",
        "PROTOCOL.md §1.4: only the 8-character token [2,10) is sent in the activation body")
class TokenWholeFirst(EmulatedCamera):
    """Two token layouts tried in turn, the wrong one first: pairing still succeeds, one refusal later."""

    _whole_token = False

    def split_token(self, text: str) -> tuple[str, str, str]:
        region, token, secret = super().split_token(text)
        return (region, text, secret) if self._whole_token else (region, token, secret)

    def _fail_activation(self, reason: str, **details: Any) -> None:
        if self._whole_token:  # not a failure yet: the other layout is still to be tried
            self.record("activation-retry", reason=reason, **details)
            return
        super()._fail_activation(reason, **details)

    async def _activate(self, config: PairingConfig) -> Activation | None:
        self._whole_token = True
        try:
            first = await super()._activate(config)
        finally:
            self._whole_token = False
        return first if first is not None else await super()._activate(config)


@_fault("activates-without-token", "leaves the pairing token out of the activation body",
        "PROTOCOL.md §0 step 3 / §4.2: activation carries the 8-character token")
class ActivatesWithoutToken(EmulatedCamera):
    def activation_body(self, *, token: str, t: int) -> dict[str, Any]:
        body = super().activation_body(token=token, t=t)
        body.pop("token", None)
        return body


@_fault("forgets-dev-id-on-reset", "a normal reset also forgets the devId, so re-activation sends none",
        "PROTOCOL.md §6: a reset keeps <uuid>.devid and re-activation sends the same devId")
class ForgetsDevIdOnReset(EmulatedCamera):
    def keeps_dev_id_on_reset(self) -> bool:
        return False



@_fault("token-region-ignored", "activates at its one configured cloud whatever region the token names",
        "PROTOCOL.md §1.3/§1.4: the token's region picks the cloud; another region's token activates nothing here")
class TokenRegionIgnored(EmulatedCamera):
    def endpoint_for(self, region: str) -> CloudEndpoint | None:
        own = super().endpoint_for(region)
        if own is not None or isinstance(self.cloud, CloudEndpoint):
            return own
        return next(iter(self.cloud.values()), None)  # the fault: the first endpoint it knows, for any region
