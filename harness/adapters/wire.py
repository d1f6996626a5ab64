"""One HTTP exchange with a cloud's endpoint, for the adapters and the lab probes: any HTTP answer is a
``(status, body)``; no answer at all is an :class:`~harness.adapters.contracts.AdapterError` (lab trouble).

:func:`send_atop` is the raw ATOP request of the cloud contract (:data:`CloudCapability.RAW_ATOP`): a query string
and a form body sent as they are, so that a fuzzer can send what no device would (PROTOCOL.md §4.2).
"""

from __future__ import annotations

import base64
import binascii
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping

from harness.adapters.contracts import AdapterError, RawReply

MAX_ANSWER_BYTES = 4 * 1024 * 1024
ATOP_HEADERS = {"Content-Type": "application/x-www-form-urlencoded;charset=UTF-8", "User-Agent": "TUYA_IOT_SDK"}


def tls_for(ca_der_base64: object) -> ssl.SSLContext | None:
    """A client context trusting the CA a cloud names (§11.1, §11.2: url_config's ``caArr[0]``, base64 DER), or
    None (the system's trust store) when it names none."""
    if not isinstance(ca_der_base64, str) or not ca_der_base64:
        return None
    try:
        der = base64.b64decode(ca_der_base64, validate=True)
        return ssl.create_default_context(cadata=ssl.DER_cert_to_PEM_cert(der))
    except (binascii.Error, ValueError, ssl.SSLError) as exc:
        raise AdapterError(f"the cloud's CA is not a usable certificate: {exc}") from exc


def exchange(method: str, url: str, body: bytes | None, headers: Mapping[str, str], *,
             timeout_s: float, tls: ssl.SSLContext | None = None, where: str | None = None) -> tuple[int, bytes]:
    """One request; ``(status, body)`` for any HTTP answer (4xx and 5xx included), AdapterError when none came.
    An ``https://`` URL is verified against ``tls`` (None: the system's trust store). ``where`` names the peer in
    the error (default: the URL without its query)."""
    request = urllib.request.Request(url, data=body, method=method, headers=dict(headers))
    where = where or url.split("?", 1)[0]
    try:
        with urllib.request.urlopen(request, timeout=timeout_s, context=tls) as answer:
            return int(answer.status), answer.read(MAX_ANSWER_BYTES)
    except urllib.error.HTTPError as exc:
        try:
            return int(exc.code), exc.read(MAX_ANSWER_BYTES)
        finally:
            exc.close()
    except urllib.error.URLError as exc:
        raise AdapterError(f"{where} could not be reached ({method}): {exc.reason}") from exc
    except TimeoutError as exc:
        raise AdapterError(f"{where} did not answer {method} within {timeout_s} s") from exc
    except OSError as exc:  # connection reset, broken pipe, ...
        raise AdapterError(f"{where} failed ({method}): {exc}") from exc


def send_atop(atop_url: str, query: str, body: bytes, *, method: str = "POST", timeout_s: float = 10.0,
              tls: ssl.SSLContext | None = None) -> RawReply:
    """Send ``body`` to ``atop_url?query`` as a device's ATOP client would (§4.2), whatever they hold; an
    ``https://`` endpoint is verified against ``tls`` (§11.1)."""
    status, raw = exchange(method, f"{atop_url}?{query}", body, ATOP_HEADERS, timeout_s=timeout_s, tls=tls)
    return RawReply(status, raw)


__all__ = ["ATOP_HEADERS", "MAX_ANSWER_BYTES", "exchange", "send_atop", "tls_for"]
