"""How the emulated cloud decides, as small hook methods: the conformant behaviour a fault subclass overrides.

One :class:`CloudBehaviour` serves one cloud: :class:`~harness.emulator.cloud.state.CloudState` asks it how to make
a product, a token id and a removal, and runs its activation steps (:mod:`harness.emulator.cloud.activation`);
:class:`~harness.emulator.cloud.atop.AtopService` asks it which APIs it serves, how it finds and opens a request's
licence, and how it answers a body it cannot read; the broker's
:class:`~harness.emulator.broker.authority.CredentialAuthority` asks it (a
:class:`~harness.emulator.broker.authority.BrokerPolicy`) about topics and device logins. The code that calls the
hooks carries no fault switches: a fault is a subclass overriding some hooks (DESIGN.md "Faults"), registered by
name in :mod:`harness.emulator.cloud.faults`, and several combine by multiple inheritance.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from harness.emulator.broker.authority import BrokerPolicy
from harness.model.binding import BindingMode, product_binding_mode
from harness.model.token import TokenRecord
from harness.protocol.atop import API_ACTIVE_V44, API_OPENSDK_ACTIVE, API_RESET, ActivationRequest, AtopQuery
from harness.protocol.errors import ProtocolError
from harness.protocol.matop import API_VERSIONS_UPDATE

from .activation import ActivationOutcome, ActivationSteps
from .bind import UuidBindSteps
from .records import Device, Product, random_text

if TYPE_CHECKING:
    from .atop import AtopService
    from .state import CloudState


class CloudBehaviour(ActivationSteps, BrokerPolicy, UuidBindSteps):
    """The conformant cloud. ``fault_names`` are the faults a subclass makes (none here)."""

    fault_names: tuple[str, ...] = ()

    # -- the state (§0, §6) -------------------------------------------------------------------------------

    def product_binding_mode(self, category: str, requested: BindingMode | str | None) -> BindingMode:
        """A new product's binding mode: a camera is always strong (the model's rule); ValueError or
        ProtocolError when the request breaks it."""
        return product_binding_mode(category, requested)

    def new_token_id(self) -> str:
        """The 8-character token of a new pairing token: random (§0: it cannot be guessed); the state retries
        on a collision."""
        return random_text(8)

    def token_retired_at(self, record: TokenRecord) -> float:
        """When a pairing token stops being usable (its use, else its expiry): the state purges it, with its
        attempts, once its retention has passed since then."""
        return record.consumed_at if record.consumed_at is not None else record.expires_at

    def removal_releases_binding(self, product: Product, device: Device, *, wipe: bool) -> bool:
        """Whether the app's "Remove device" (``wipe``: "Remove and wipe data") unbinds the device (§6: yes)."""
        return True

    def retains_command(self, protocol: int) -> bool:
        """Whether the cloud publishes a message of ``protocol`` to a device retained (§5: no, a command is for
        the session it is sent to; a retained one would reach every later login of that device)."""
        return False

    # -- ATOP (§4) ----------------------------------------------------------------------------------------

    def served_apis(self) -> frozenset[tuple[str, str]]:
        """The ATOP (api, version) pairs ``/d.json`` serves; any other is UNKNOWN_API (§11.5: the SDKs send
        ``tuya.device.versions.update`` after activation and on every boot)."""
        return frozenset({API_ACTIVE_V44, API_OPENSDK_ACTIVE, API_RESET, API_VERSIONS_UPDATE})

    def malformed_body_answer(self, error: ProtocolError) -> web.Response | None:
        """The answer to a request body that does not parse or decode, or None for the conformant ATOP error."""
        return None

    def checks_sign(self) -> bool:
        """Whether an activation's sign is verified under the licence's AuthKey (§4.2: yes)."""
        return True

    def find_licence_key(self, atop: AtopService, uuid: str, query: AtopQuery, body: bytes) -> tuple[str, str] | None:
        """The licence an activation naming ``uuid`` counts for and the AuthKey to open it with, or None when
        the cloud never issued that licence."""
        key = atop.state.licence_key(uuid)
        return None if key is None else (uuid, key)

    def open_activation_body(self, atop: AtopService, query: AtopQuery, body: bytes,
                             key: str) -> tuple[bytes, str] | web.Response:
        """The decrypted activation body and the key that opened it (the answer is sealed under it), or the
        plaintext error to answer with."""
        opened = atop.open_body(query, body, key, check_sign=self.checks_sign())
        return opened if isinstance(opened, web.Response) else (opened, key)

    async def run_activation(self, state: CloudState, uuid: str, req: ActivationRequest) -> ActivationOutcome:
        """Activate (atomically: check, consume the token, bind, and record the protocol version the request
        announced: :func:`harness.emulator.cloud.activation.announcing`)."""
        return state.activate(uuid, req)


__all__ = ["CloudBehaviour"]
