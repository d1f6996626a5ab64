"""The camera's SoftAP config channel (PROTOCOL.md §3), with real sockets on loopback.

In pairing mode the camera listens on:

- UDP for legacy "AP 3.x" 55AA frames (§3.1; port 6669 on a real device): cmd 1 carries the plain JSON
  config. §3.1 found no evidence that a reply is required; this emulator answers each config frame with a
  55AA cmd 1 frame holding the 4-byte ret_code (0 = OK), so that a sender can tell (emulator-defined).
- TCP for LPV3.5 frames in the 6699 framing (§3.2), sealed with the fixed app key. A real device runs TLS 1.2
  with a pre-shared key on port 6668 (or 7001 with a pincode) and the frames travel inside it; Python 3.11's
  ``ssl`` module has no TLS-PSK, so here the frames travel over plain TCP. The device answers a type 0x14
  config frame with a type 0x14 frame holding the 4-byte ret_code only.

A frame with a bad prefix, length, CRC, suffix or GCM tag is refused: no config, no ack, and the camera stays
in pairing mode. The ports are ephemeral on 127.0.0.1 and kept across reopenings where they are still free;
:attr:`ApServer.address` is ``(host, udp_port, tcp_port)``, also published on the air as the camera's
``SmartLife-XXXX`` SoftAP while it is open.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from typing import TYPE_CHECKING, Any, Protocol, cast

from harness.emulator.air import DeviceAp
from harness.protocol import apconfig as ap
from harness.protocol.errors import ProtocolError

if TYPE_CHECKING:
    from harness.emulator.air import Air
    from harness.emulator.camera.pairing import PairingChannel, PairingConfig
    from harness.emulator.camera.states import State
    from harness.emulator.timeline import TimelineEvent


class ApCamera(Protocol):
    """What the SoftAP needs of its camera (:class:`~harness.emulator.camera.firmware.EmulatedCamera` is one)."""

    air: Air
    ap_variants: frozenset[str]
    uuid: str
    pid: str

    @property
    def ap_ssid(self) -> str: ...
    @property
    def state(self) -> State: ...
    @property
    def activated(self) -> bool: ...
    def record(self, name: str, **details: Any) -> TimelineEvent: ...
    def lpv35_key(self) -> bytes: ...
    def decode_legacy_ap_frame(self, data: bytes) -> ap.ApFrame: ...
    def refuse_ap_frame(self, mode: PairingChannel, raw: bytes, error: ProtocolError) -> None: ...
    def take_ap_payload(self, mode: PairingChannel, data: bytes) -> PairingConfig | None: ...
    def ap_ack_code(self, mode: PairingChannel, ret: int) -> int: ...
    def capture_config(self, config: PairingConfig) -> None: ...

# An ack's ret_code when the frame was sound but its config was refused (emulator-defined; 0 = OK, §3.2).
RET_REFUSED = 1


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, server: ApServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self.server.legacy_datagram(self, data, addr)


class _Tcp(asyncio.Protocol):
    def __init__(self, server: ApServer) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.buffer = ap.Lpv35FrameBuffer(key=server.camera.lpv35_key())
        self.seq = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connections.discard(self)

    def data_received(self, data: bytes) -> None:
        self.server.lpv35_data(self, data)

    def send(self, frame_type: int, data: bytes) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        self.seq += 1
        self.transport.write(ap.encode_lpv35_frame(frame_type, data, seq=self.seq, key=self.server.camera.lpv35_key(),
                                                   nonce=secrets.token_bytes(ap.NONCE_LEN)))


class ApServer:
    """The config sockets of one camera's SoftAP; used from the device loop only."""

    def __init__(self, camera: ApCamera, *, host: str = "127.0.0.1",
                 ports: tuple[int, int] | None = None) -> None:
        self.camera = camera
        self.host = host
        self.fixed = ports is not None  # a lab's camera: the SoftAP's ports never move (an error when taken)
        self.udp_port, self.tcp_port = ports if ports is not None else (0, 0)
        self._udp: _Udp | None = None
        self._tcp: asyncio.Server | None = None
        self.connections: set[_Tcp] = set()
        self._opening = False

    @property
    def is_open(self) -> bool:
        return self._udp is not None or self._tcp is not None

    @property
    def address(self) -> tuple[str, int, int] | None:
        """Where the SoftAP listens, once every socket it offers is bound (never a half-open or stale port)."""
        return (self.host, self.udp_port, self.tcp_port) if self.is_open and not self._opening else None

    async def open(self) -> None:
        if self.is_open or self._opening:
            return
        self._opening = True
        loop = asyncio.get_running_loop()
        try:
            if "legacy" in self.camera.ap_variants:
                transport, protocol = await self._bind_udp(loop)
                self._udp = protocol
                self.udp_port = transport.get_extra_info("sockname")[1]
            if "lpv35" in self.camera.ap_variants:
                self._tcp = await self._bind_tcp(loop)
                self.tcp_port = self._tcp.sockets[0].getsockname()[1]
        except BaseException:
            self.close()
            raise
        finally:
            self._opening = False
        self.camera.air.open_device_ap(DeviceAp(self.camera.ap_ssid, self.host, self.udp_port, self.tcp_port))
        self.camera.record("ap-open", ssid=self.camera.ap_ssid, host=self.host, udp_port=self.udp_port,
                           tcp_port=self.tcp_port)

    async def _bind_udp(self, loop: asyncio.AbstractEventLoop) -> tuple[asyncio.DatagramTransport, _Udp]:
        for port in (self.udp_port, 0) if self.udp_port else (0,):
            try:
                transport, protocol = await loop.create_datagram_endpoint(
                    lambda: _Udp(self), local_addr=(self.host, port))
                return transport, protocol
            except OSError:
                if port == 0 or self.fixed:
                    raise
        raise OSError("unreachable")

    async def _bind_tcp(self, loop: asyncio.AbstractEventLoop) -> asyncio.Server:
        for port in (self.tcp_port, 0) if self.tcp_port else (0,):
            try:
                return await loop.create_server(lambda: _Tcp(self), self.host, port, backlog=16,
                                                reuse_address=True)
            except OSError:
                if port == 0 or self.fixed:
                    raise
        raise OSError("unreachable")

    def close(self) -> None:
        """Close the SoftAP: both sockets and every open config connection."""
        if not self.is_open:
            return
        if self._udp is not None and self._udp.transport is not None:
            self._udp.transport.close()
        self._udp = None
        if self._tcp is not None:
            self._tcp.close()
        self._tcp = None
        for connection in list(self.connections):
            if connection.transport is not None:
                with contextlib.suppress(Exception):
                    connection.transport.close()
        self.connections.clear()
        self.camera.air.close_device_ap(self.camera.ap_ssid)
        self.camera.record("ap-closed", ssid=self.camera.ap_ssid)

    # -- §3.1 legacy ---------------------------------------------------------------------------------------

    def legacy_datagram(self, endpoint: _Udp, data: bytes, addr: tuple[str | Any, int]) -> None:
        camera = self.camera
        try:
            frame = camera.decode_legacy_ap_frame(data)
        except ProtocolError as exc:
            camera.refuse_ap_frame("ap-legacy", data, exc)
            return
        if frame.cmd != ap.AP_CONFIG_CMD:
            camera.record("ap-frame-ignored", variant="ap-legacy", cmd=frame.cmd)
            return
        config = camera.take_ap_payload("ap-legacy", frame.payload)
        ret = camera.ap_ack_code("ap-legacy", 0 if config is not None else RET_REFUSED)
        if endpoint.transport is not None:
            reply = ap.encode_ap_frame(ret.to_bytes(4, ap.RET_CODE_BYTEORDER), seq=frame.seq, cmd=ap.AP_CONFIG_CMD)
            endpoint.transport.sendto(reply, addr)
        camera.record("ap-ack", variant="ap-legacy", ret_code=ret)
        if config is not None:
            camera.capture_config(config)

    # -- §3.2 LPV3.5 ---------------------------------------------------------------------------------------

    def lpv35_data(self, connection: _Tcp, data: bytes) -> None:
        camera = self.camera
        connection.buffer.receive_data(data)
        while True:
            try:
                frame = connection.buffer.next_frame()
            except ProtocolError as exc:
                camera.refuse_ap_frame("ap-lpv35", data, exc)
                continue
            if frame is None:
                return
            if frame.type == ap.Lpv35Type.AP_CFG_WF_V40:
                config = camera.take_ap_payload("ap-lpv35", frame.data)
                ret = camera.ap_ack_code("ap-lpv35", 0 if config is not None else RET_REFUSED)
                connection.send(ap.Lpv35Type.AP_CFG_WF_V40, ap.ap_cfg_ack_payload(ret))
                camera.record("ap-ack", variant="ap-lpv35", ret_code=ret)
                if config is not None:
                    camera.capture_config(config)
                    return
            elif frame.type == ap.Lpv35Type.EXT_CMD:
                self._ext_cmd(connection, frame.data)
            else:
                camera.record("ap-frame-ignored", variant="ap-lpv35", type=frame.type)

    def _ext_cmd(self, connection: _Tcp, data: bytes) -> None:
        camera = self.camera
        try:
            request = ap.parse_ext_cmd_request(data)
        except ProtocolError as exc:
            camera.record("ap-ext-cmd-refused", error=str(exc))
            return
        reply_type = ap.EXT_REPLIES[request.req_type]
        body: dict[str, Any]
        if request.req_type == "query_dev":
            body = {"uuid": camera.uuid, "pid": camera.pid, "version": "3.5", "active": int(camera.activated)}
        elif request.req_type == "get_wifi_list":
            body = {"list": [{"ssid": ap_.ssid.decode("utf-8", "replace"), "rssi": -40}
                             for ap_ in camera.air.access_points]}
        else:
            body = {"stat": camera.state.value}
        connection.send(ap.Lpv35Type.EXT_CMD, ap.ext_cmd_payload(ap.ExtCmdReply(reply_type, body)))
        camera.record("ap-ext-cmd", req_type=request.req_type)


__all__ = ["RET_REFUSED", "ApCamera", "ApServer"]
