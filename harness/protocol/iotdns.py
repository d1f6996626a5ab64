"""iot-dns ``url_config`` (PROTOCOL.md §4.1): the request body and the two answer styles.

Sans-IO records; re-exported by :mod:`harness.protocol.atop`. TO asks for ``httpsSelfUrl`` and
``mqttsSelfUrl`` with their CA; older SDKs are answered (as cloudcutter does) with ``httpUrl`` and
``mqttUrl`` objects, and the 2018 SDK with flat strings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from harness.protocol.errors import RemoteProtocolError
from harness.protocol.strictjson import dumps_compact, loads_json

S_DNS: Final = "§4.1"
# §4.1: "Path: /d.json" (very old ESP SDKs also used /gw.json).
ATOP_PATH: Final = "/d.json"
_REGION = re.compile(r"[A-Z]{2}")



@dataclass(frozen=True)
class UrlConfigKey:
    """One ``{"key":..,"need_ca":..}`` entry of a url_config request."""

    key: str
    need_ca: bool = True


# §4.1 TO body: config httpsSelfUrl and mqttsSelfUrl, both need_ca true.
DEFAULT_URL_CONFIG_KEYS: Final = (UrlConfigKey("httpsSelfUrl"), UrlConfigKey("mqttsSelfUrl"))


@dataclass(frozen=True)
class UrlConfigRequest:
    """``POST /v2/url_config`` body (§4.1). ``region`` None is TO's no-region variant."""

    config: tuple[UrlConfigKey, ...] = DEFAULT_URL_CONFIG_KEYS
    region: str | None = None
    env: str = "pro"

    def to_json(self) -> str:
        body: dict[str, Any] = {"config": [{"key": c.key, "need_ca": c.need_ca} for c in self.config]}
        if self.region is not None:
            body["region"] = self.region
        body["env"] = self.env
        return dumps_compact(body)

    @classmethod
    def from_json(cls, data: str | bytes) -> UrlConfigRequest:
        obj = loads_json(data, section=S_DNS, what="url_config request")
        if not isinstance(obj, dict) or not isinstance(obj.get("config"), list):
            raise RemoteProtocolError("url_config request needs a config array", section=S_DNS)
        keys = []
        for item in obj["config"]:
            if not (isinstance(item, dict) and isinstance(item.get("key"), str) and 0 < len(item["key"]) <= 64):
                raise RemoteProtocolError("url_config config entries are {key, need_ca}", section=S_DNS)
            need_ca = item.get("need_ca", False)
            if not isinstance(need_ca, bool):
                raise RemoteProtocolError("url_config need_ca must be a boolean", section=S_DNS)
            keys.append(UrlConfigKey(item["key"], need_ca))
        region, env = obj.get("region"), obj.get("env")
        if region is not None and not (isinstance(region, str) and _REGION.fullmatch(region)):
            raise RemoteProtocolError(f"url_config region {region!r} is not two capital letters", section=S_DNS)
        if not (isinstance(env, str) and 0 < len(env) <= 16):
            raise RemoteProtocolError("url_config env must be a short string", section=S_DNS)
        return cls(config=tuple(keys), region=region, env=env)


@dataclass(frozen=True)
class UrlEntry:
    """An ``{"addr":..,"ips":[..]}`` member of a url_config answer; ``flat`` is the 2018 SDK's bare string."""

    addr: str
    ips: tuple[str, ...] | None = None
    flat: bool = False

    def to_wire(self) -> Any:
        if self.flat:
            return self.addr
        return {"addr": self.addr} if self.ips is None else {"addr": self.addr, "ips": list(self.ips)}


@dataclass(frozen=True)
class UrlConfigResponse:
    """A url_config answer (§4.1): every ``*Url`` member, ``caArr``, ``psk_key`` and ``ttl``."""

    urls: Mapping[str, UrlEntry]
    ca_arr: tuple[str, ...] | None = None
    psk_key: str | None = None
    ttl: int | None = None

    def addr(self, key: str) -> str | None:
        """``addr`` of ``httpsSelfUrl``/``mqttsSelfUrl``/``httpUrl``/``mqttUrl``/..., None when absent."""
        entry = self.urls.get(key)
        return entry.addr if entry else None

    def to_json(self) -> str:
        body: dict[str, Any] = {"caArr": None if self.ca_arr is None else list(self.ca_arr)}
        body.update({name: entry.to_wire() for name, entry in self.urls.items()})
        if self.psk_key is not None:
            body["psk_key"] = self.psk_key
        if self.ttl is not None:
            body["ttl"] = self.ttl
        return dumps_compact(body)

    @classmethod
    def from_json(cls, data: str | bytes) -> UrlConfigResponse:
        obj = loads_json(data, section=S_DNS, what="url_config answer")
        if not isinstance(obj, dict):
            raise RemoteProtocolError("url_config answer is not a JSON object", section=S_DNS)
        urls = {name: _url_entry(name, value) for name, value in obj.items() if name.endswith("Url")}
        ca, psk, ttl = obj.get("caArr"), obj.get("psk_key"), obj.get("ttl")
        if ca is not None and not (isinstance(ca, list) and all(isinstance(c, str) for c in ca)):
            raise RemoteProtocolError("url_config caArr is not a list of base64 strings", section=S_DNS)
        if psk is not None and not isinstance(psk, str):
            raise RemoteProtocolError("url_config psk_key is not a string", section=S_DNS)
        if ttl is not None and type(ttl) is not int:
            raise RemoteProtocolError("url_config ttl is not an integer", section=S_DNS)
        return cls(urls=urls, ca_arr=None if ca is None else tuple(ca), psk_key=psk, ttl=ttl)


def _url_entry(name: str, value: object) -> UrlEntry:
    """One ``...Url`` member: a flat string, or ``{"addr": str, "ips": [str, ...]?}`` (§4.1)."""
    if isinstance(value, str):
        return UrlEntry(value, flat=True)
    if not (isinstance(value, dict) and isinstance(value.get("addr"), str)):
        raise RemoteProtocolError(f"url_config {name} has no string addr", section=S_DNS)
    ips = value.get("ips")
    if ips is not None and not (isinstance(ips, list) and all(isinstance(ip, str) for ip in ips)):
        raise RemoteProtocolError(f"url_config {name}.ips is not a list of strings", section=S_DNS)
    return UrlEntry(value["addr"], None if ips is None else tuple(ips))


def self_url_config_response(https_addr: str, mqtts_addr: str, *, ca_arr: tuple[str, ...] = ()) -> UrlConfigResponse:
    """TO's answer: ``httpsSelfUrl.addr`` (https://host/path), ``mqttsSelfUrl.addr`` (host:port), ``caArr`` (§4.1)."""
    urls = {"httpsSelfUrl": UrlEntry(https_addr), "mqttsSelfUrl": UrlEntry(mqtts_addr)}
    return UrlConfigResponse(urls=urls, ca_arr=ca_arr)


def plain_url_config_response(ip: str, *, mqtt_port: int = 1883, ttl: int = 600) -> UrlConfigResponse:
    """The CC-style answer: ``httpUrl`` http://IP/d.json and ``mqttUrl`` IP:1883, caArr null, ttl 600 (§4.1)."""
    urls = {
        "httpUrl": UrlEntry(f"http://{ip}{ATOP_PATH}", (ip,)),
        "mqttUrl": UrlEntry(f"{ip}:{mqtt_port}", (ip,)),
    }
    return UrlConfigResponse(urls=urls, ca_arr=None, ttl=ttl)


__all__ = [
    "ATOP_PATH", "DEFAULT_URL_CONFIG_KEYS", "UrlConfigKey", "UrlConfigRequest", "UrlConfigResponse", "UrlEntry",
    "plain_url_config_response", "self_url_config_response",
]
