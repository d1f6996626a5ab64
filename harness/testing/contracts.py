"""Contract tests for your own adapters: subclass a base class, give it your adapter as a fixture, and pytest runs
every check of the contract (:mod:`harness.adapters.contracts`) against it, in the style of zarr's ``StoreTests``.

A vendor or QA team that writes a cloud adapter (their staging cloud) or a device adapter (their bench) checks it
before a certification run trusts it::

    import pytest
    from harness.testing.contracts import CloudAdapterTests

    class TestStagingCloud(CloudAdapterTests):
        @pytest.fixture
        def cloud(self):
            adapter = StagingCloud(url="https://staging.example")
            yield adapter
            adapter.close()

The base classes' names do not start with ``Test``: importing one does not collect it by itself. Each check names
the contract it holds the adapter to; a check of a lab control the adapter does not claim (its ``capabilities``)
asks that the control raise :class:`~harness.adapters.contracts.CapabilityMissing`, as the suites expect.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest

from harness.adapters.contracts import (
    ApAddress,
    CapabilityMissing,
    CloudAdapter,
    CloudCapability,
    DeviceAdapter,
    DeviceCapability,
    DeviceEvent,
)
from harness.model import BindingMode
from harness.protocol.errors import ProtocolError
from harness.protocol.token import PairingToken

PAIRING_MODE_WAIT_S = 60.0  # the longest a device of any profile takes back to pairing mode after a factory reset
UNKNOWN = "paircert-contract-no-such-thing"  # an id no cloud has issued


def _check(holds: object, message: str) -> None:
    """One clause of the contract: when it does not hold, the adapter's failure (an AssertionError, as pytest reports
    a test's), told in ``message``; a call, not an ``assert``, so that ``python -O`` keeps it."""
    if not holds:
        raise AssertionError(message)


class CloudAdapterTests:
    """The cloud contract: the app API (accounts, homes, tokens, device lists) and the lab controls it claims.

    Give it a ``cloud`` fixture; each test starts from that adapter and creates its own account and home."""

    @pytest.fixture
    def cloud(self) -> CloudAdapter:
        raise NotImplementedError("a CloudAdapterTests subclass defines a `cloud` fixture returning its adapter")

    def home_of_a_new_account(self, cloud: CloudAdapter) -> tuple[str, str]:
        """A new account and a home it owns."""
        account = cloud.create_account("paircert-contract")
        return account, cloud.create_home(account, "paircert contract home")

    def test_it_is_a_cloud_adapter(self, cloud: CloudAdapter) -> None:
        _check(isinstance(cloud, CloudAdapter),
               "the adapter lacks methods of harness.adapters.contracts.CloudAdapter")
        _check(isinstance(cloud.name, str) and cloud.name, f"a cloud adapter's name is {cloud.name!r}, not a name")
        _check(isinstance(cloud.capabilities, frozenset),
               f"capabilities is a {type(cloud.capabilities).__name__}, not a frozenset of names")
        _check(all(isinstance(c, str) for c in cloud.capabilities), f"capabilities not names: {cloud.capabilities}")
        _check(isinstance(cloud.info(), Mapping), f"info() is a {type(cloud.info()).__name__}, not a mapping")

    def test_a_new_home_holds_no_device(self, cloud: CloudAdapter) -> None:
        _, home = self.home_of_a_new_account(cloud)
        devices = list(cloud.list_devices(home))
        _check(devices == [], f"a home just created lists {len(devices)} device(s), not none: {devices}")

    def test_a_token_is_fourteen_characters_of_the_clouds_region(self, cloud: CloudAdapter) -> None:
        """PROTOCOL.md §1.3: region [0,2), token [2,10), secret [10,14); the region is the cloud's own."""
        account, home = self.home_of_a_new_account(cloud)
        text = cloud.get_token(home, account)
        try:
            token = PairingToken.parse(text)
        except ProtocolError as exc:
            pytest.fail(f"get_token answered {text!r}, not a §1.3 pairing token: {exc}")
        _check(token.region == cloud.region, f"a token of region {token.region}, but the cloud is {cloud.region}")

    def test_tokens_are_never_reissued(self, cloud: CloudAdapter) -> None:
        account, home = self.home_of_a_new_account(cloud)
        tokens = [cloud.get_token(home, account) for _ in range(3)]
        _check(len(set(tokens)) == len(tokens), f"get_token issued the same token twice: {tokens}")

    def test_an_unused_token_has_no_attempts(self, cloud: CloudAdapter) -> None:
        account, home = self.home_of_a_new_account(cloud)
        attempts = list(cloud.token_attempts(cloud.get_token(home, account)))
        _check(attempts == [], f"a token just issued already has {len(attempts)} attempt(s): {attempts}")

    def test_an_unknown_device_is_none(self, cloud: CloudAdapter) -> None:
        record = cloud.device(UNKNOWN)
        _check(record is None, f"device() of an id never issued answered {record}, not None")

    def test_licences_are_issued_as_claimed(self, cloud: CloudAdapter) -> None:
        """cloud:create-products and cloud:issue-licences: a product, then licences of it, each its own UUID; a
        cloud that claims neither says so with CapabilityMissing."""
        if CloudCapability.CREATE_PRODUCTS not in cloud.capabilities:
            with pytest.raises(CapabilityMissing):
                cloud.create_product("paircert contract camera", "sp", BindingMode.STRONG)
            return
        product = cloud.create_product("paircert contract camera", "sp", BindingMode.STRONG)
        _check(product.binding_mode is BindingMode.STRONG, f"created as strong, the cloud says {product}")
        if CloudCapability.ISSUE_LICENCES not in cloud.capabilities:
            with pytest.raises(CapabilityMissing):
                cloud.issue_licence(product.pid)
            return
        first, second = cloud.issue_licence(product.pid), cloud.issue_licence(product.pid)
        _check(first.uuid != second.uuid, f"two licences were issued with one UUID {first.uuid}")
        _check(first.auth_key and second.auth_key, "a licence was issued without an AuthKey")

    def test_a_licence_bound_nowhere_is_released_as_none(self, cloud: CloudAdapter) -> None:
        """release_device (between tests): nothing to remove for a device bound nowhere."""
        claims = {CloudCapability.CREATE_PRODUCTS, CloudCapability.ISSUE_LICENCES}
        if not claims <= cloud.capabilities:
            pytest.skip("the cloud issues no licences of its own (cloud:create-products, cloud:issue-licences)")
        licence = cloud.issue_licence(cloud.create_product("paircert contract plug", "cz", BindingMode.STRONG).pid)
        released = cloud.release_device(licence.uuid)
        _check(released is None, f"release_device of a licence bound nowhere answered {released}, not None")

    def test_time_travel_is_offered_only_where_claimed(self, cloud: CloudAdapter) -> None:
        if CloudCapability.TIME_TRAVEL in cloud.capabilities:
            before = cloud.clock.time()
            cloud.advance_time(5.0)
            _check(cloud.clock.time() >= before + 5.0, "advance_time(5) moved the cloud's clock less than 5 s")
        else:
            with pytest.raises(CapabilityMissing):
                cloud.advance_time(5.0)


class DeviceAdapterTests:
    """The device contract: what it says it is, and the resets and liveness the suites lean on between tests.

    Give it a ``device`` fixture (a device the adapter drives, switched on)."""

    pairing_mode_wait_s = PAIRING_MODE_WAIT_S

    @pytest.fixture
    def device(self) -> DeviceAdapter:
        raise NotImplementedError("a DeviceAdapterTests subclass defines a `device` fixture returning its adapter")

    def test_it_is_a_device_adapter(self, device: DeviceAdapter) -> None:
        _check(isinstance(device, DeviceAdapter),
               "the adapter lacks methods of harness.adapters.contracts.DeviceAdapter")
        _check(isinstance(device.name, str) and device.name,
               f"a device adapter's name is {device.name!r}, not a name")
        _check(isinstance(device.capabilities, frozenset),
               f"capabilities is a {type(device.capabilities).__name__}, not a frozenset of names")
        _check(device.licence.uuid and device.licence.auth_key, "the device's licence has a UUID and an AuthKey")
        _check(device.pid, f"the device's product id is {device.pid!r}")
        _check(isinstance(device.info(), Mapping), f"info() is a {type(device.info()).__name__}, not a mapping")

    def test_a_factory_reset_device_is_in_pairing_mode_and_alive(self, device: DeviceAdapter) -> None:
        if DeviceCapability.FACTORY_RESET not in device.capabilities:
            pytest.skip("the adapter cannot factory-reset its device (device:factory-reset)")
        device.factory_reset()
        device.wait_pairing_mode(self.pairing_mode_wait_s)
        if DeviceCapability.LIVENESS in device.capabilities:
            _check(device.is_alive(), "a device just back in pairing mode is not alive")

    def test_its_access_point_is_an_address_or_none(self, device: DeviceAdapter) -> None:
        address = device.ap_address()
        _check(address is None or isinstance(address, ApAddress), f"ap_address() answered {address!r}")
        if isinstance(address, ApAddress):
            _check(address.udp_port or address.tcp_port, f"an AP address without a port: {address}")

    def test_its_events_are_a_timeline(self, device: DeviceAdapter) -> None:
        events = device.events()
        _check(isinstance(events, Sequence), f"events() is a {type(events).__name__}, not a sequence")
        others = [e for e in events if not isinstance(e, DeviceEvent)]
        _check(not others, f"events() holds values that are not DeviceEvent: {others[:3]}")
        times = [e.at for e in events]
        _check(times == sorted(times), f"the device's events are not in time order: at {times}")


__all__ = ["PAIRING_MODE_WAIT_S", "CloudAdapterTests", "DeviceAdapterTests"]
