"""The lab cloud as genuine firmware meets it (PROTOCOL.md §11): HTTPS and MQTT over TLS with a lab CA, the
url_config answer the SDKs parse, ATOP requests carrying User-Agent twice, and the bad input of TLS.

Everything goes through real sockets on loopback, with TLS verified against the lab CA."""

from __future__ import annotations

import base64
import json
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from _cloud_helpers import World, build_activation, make_world
from _tls_helpers import DeviceMqtt, http_exchange, port_of, sdk_request, sscanf_https
from cryptography import x509

from harness.emulator.cloud import EmulatedCloud, LabCa, TlsSettings
from harness.emulator.cloud.tls import LabCaError, client_context_from_der_base64
from harness.protocol.atop import decode_response
from harness.protocol.iotdns import UrlConfigResponse
from harness.protocol.mqtt import device_credentials


@pytest.fixture(scope="module")
def lab_ca() -> LabCa:
    return LabCa.create()


@pytest.fixture(scope="module")
def cloud(lab_ca: LabCa) -> Iterator[EmulatedCloud]:
    with EmulatedCloud(tls=TlsSettings(lab_ca, names=("a2.tuyaeu.com", "h3.iot-dns.com", "10.9.8.7")),
                       plain_port=0, plain_mqtt_port=0) as served:
        yield served


@pytest.fixture
def world(cloud: EmulatedCloud) -> World:
    return make_world(cloud)


def https_port(cloud: EmulatedCloud) -> int:
    return port_of(cloud.http_url)


# ------------------------------------------------------------------------------------------------ the lab CA


def test_the_ca_is_created_once_and_reused(tmp_path: Path) -> None:
    first = LabCa.load_or_create(tmp_path / "ca")
    assert (tmp_path / "ca" / "ca.key").stat().st_mode & 0o777 == 0o600
    again = LabCa.load_or_create(tmp_path / "ca")
    assert again.cert_pem == first.cert_pem and again.key_pem == first.key_pem
    constraints = first.certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert constraints.ca


def test_half_a_ca_or_a_foreign_key_is_a_clear_error(tmp_path: Path) -> None:
    LabCa.load_or_create(tmp_path)
    (tmp_path / "ca.key").unlink()
    with pytest.raises(LabCaError, match=r"ca\.key is missing"):
        LabCa.load_or_create(tmp_path)
    (tmp_path / "ca.key").write_bytes(LabCa.create().key_pem)
    with pytest.raises(LabCaError, match=r"not the key of ca\.pem"):
        LabCa.load_or_create(tmp_path)


def test_the_server_certificate_names_every_host_and_ip(lab_ca: LabCa) -> None:
    """§11.1, §11.9.4: the names the camera is pointed at; an IP both as IP and as DNS SAN; loopback too."""
    cert = x509.load_pem_x509_certificate(lab_ca.issue_server(["a2.tuyaeu.com", "10.9.8.7"]).cert_pem)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    dns = san.get_values_for_type(x509.DNSName)
    ips = [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    assert {"a2.tuyaeu.com", "10.9.8.7", "localhost", "127.0.0.1"} <= set(dns)
    assert {"10.9.8.7", "127.0.0.1"} <= set(ips)
    assert cert.issuer == lab_ca.certificate.subject


def test_the_c_array_holds_the_der_certificate(lab_ca: LabCa) -> None:
    text = lab_ca.c_array()
    body = text.split("{", 1)[1].split("}", 1)[0]
    assert bytes(int(v, 16) for v in body.replace("\n", "").split(",") if v.strip()) == lab_ca.der
    assert f"[{len(lab_ca.der)}]" in text


# ------------------------------------------------------------------------------------------------ HTTPS


def test_an_https_activation_sending_user_agent_twice_succeeds(world: World, cloud: EmulatedCloud,
                                                               lab_ca: LabCa) -> None:
    """§11.3: the SDKs send User-Agent twice on every ATOP request; the activation must succeed anyway."""
    lic = world.licence()
    query, body = build_activation(lic.uuid, lic.auth_key, lic.pid, world.token())
    status, _, answer = http_exchange("127.0.0.1", https_port(cloud), sdk_request(f"/d.json?{query}", body),
                                      tls=lab_ca.client_context())
    assert status == 200
    reply = decode_response(answer, lic.auth_key, 1)
    assert reply.success and reply.result["devId"], reply


def test_repeated_user_agent_is_accepted_on_the_plain_listener_too(world: World, cloud: EmulatedCloud) -> None:
    lic = world.licence()
    query, body = build_activation(lic.uuid, lic.auth_key, lic.pid, world.token())
    assert cloud.plain_http_url is not None
    request = sdk_request(f"/d.json?{query}", body, user_agents=("TUYA_IOT_SDK", "coreHTTP", "third"))
    status, _, answer = http_exchange("127.0.0.1", port_of(cloud.plain_http_url), request)
    assert status == 200 and decode_response(answer, lic.auth_key, 1).success


def test_two_requests_on_one_connection_both_with_user_agent_twice(world: World, cloud: EmulatedCloud,
                                                                   lab_ca: LabCa) -> None:
    """The header rewriting follows Content-Length to the next request of a keep-alive connection."""
    answers = []
    raw = socket.create_connection(("127.0.0.1", https_port(cloud)), timeout=10)
    with lab_ca.client_context().wrap_socket(raw, server_hostname="127.0.0.1") as sock:
        requests = []
        for _ in range(2):
            lic = world.licence()
            query, body = build_activation(lic.uuid, lic.auth_key, lic.pid, world.token())
            requests.append((lic, sdk_request(f"/d.json?{query}", body)))
        sock.sendall(requests[0][1] + requests[1][1])  # pipelined, as one write
        data = b""
        while data.count(b"HTTP/1.1 200") < 2 or not data.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            assert chunk, f"the connection closed after {data[:300]!r}"
            data += chunk
    for part in data.split(b"HTTP/1.1 ")[1:]:
        answers.append(part.split(b"\r\n\r\n", 1)[1])
    assert all(decode_response(a, lic.auth_key, 1).success for a, (lic, _) in zip(answers, requests, strict=True))


@pytest.mark.parametrize("header", ["Content-Length", "Host"])
def test_a_really_malformed_request_still_gets_a_strict_error(cloud: EmulatedCloud, lab_ca: LabCa,
                                                              header: str) -> None:
    """Repeated Host or Content-Length is malformed (RFC 9110 singletons that decide the request): 400."""
    body = b"data=00"
    request = (f"POST /d.json?a=x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n"
               f"{header}: {'7' if header == 'Content-Length' else 'other'}\r\n\r\n").encode() + body
    status, _, _ = http_exchange("127.0.0.1", https_port(cloud), request, tls=lab_ca.client_context())
    assert status == 400


def test_plain_http_on_the_tls_port_gets_a_clear_error(cloud: EmulatedCloud) -> None:
    status, headers, body = http_exchange("127.0.0.1", https_port(cloud),
                                          b"POST /d.json HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
    assert status == 400 and headers["content-type"] == "application/json"
    answer = json.loads(body)
    assert answer["errorCode"] == "TLS_REQUIRED" and "https://" in answer["errorMsg"]


def test_a_wrong_ca_is_refused_without_disturbing_other_connections(cloud: EmulatedCloud, lab_ca: LabCa) -> None:
    good_raw = socket.create_connection(("127.0.0.1", https_port(cloud)), timeout=10)
    with lab_ca.client_context().wrap_socket(good_raw, server_hostname="127.0.0.1") as good:
        with pytest.raises(ssl.SSLCertVerificationError):
            http_exchange("127.0.0.1", https_port(cloud), b"GET / HTTP/1.1\r\n\r\n",
                          tls=LabCa.create().client_context())
        with socket.create_connection(("127.0.0.1", https_port(cloud)), timeout=10) as garbage:
            garbage.sendall(b"\x16\x03\x01\x00\x05garbage-not-a-hello")
            reply = garbage.recv(100)  # a TLS alert or the close: never an HTTP answer
            assert not reply.startswith(b"HTTP/"), reply
        good.sendall(b"GET /app/v1/lab/capabilities HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert good.recv(65536).startswith(b"HTTP/1.1 200")


def test_in_memory_worlds_share_key_pairs_but_never_trust_each_other() -> None:
    """Emulated worlds of one process reuse their CA's and server's key pairs (making RSA keys is costly), yet each
    CA has a name of its own: a client of one world's cloud is refused by another world's cloud."""
    with EmulatedCloud(tls=True) as first, EmulatedCloud(tls=True) as second:
        assert first.tls is not None and second.tls is not None
        assert first.tls.ca.key_pem == second.tls.ca.key_pem  # the shared key pair
        assert first.tls.ca.cert_pem != second.tls.ca.cert_pem
        assert first.tls.ca.certificate.subject != second.tls.ca.certificate.subject
        status, _, body = http_exchange("127.0.0.1", https_port(first), b"GET /app/v1/lab/capabilities HTTP/1.1\r\n"
                                        b"Host: 127.0.0.1\r\n\r\n", tls=first.tls.ca.client_context())
        assert status == 200, body[:200]
        with pytest.raises(ssl.SSLCertVerificationError):
            http_exchange("127.0.0.1", https_port(second), b"GET / HTTP/1.1\r\n\r\n",
                          tls=first.tls.ca.client_context())
    written = LabCa.create()  # a CA a lab keeps gets keys of its own
    assert written.key_pem != first.tls.ca.key_pem and not written.ephemeral


def test_a_name_not_in_the_certificate_is_refused(cloud: EmulatedCloud, lab_ca: LabCa) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        http_exchange("127.0.0.1", https_port(cloud), b"GET / HTTP/1.1\r\n\r\n", tls=lab_ca.client_context(),
                      server_hostname="a1.tuyaus.com")
    status, _, _ = http_exchange("127.0.0.1", https_port(cloud),
                                 b"GET /app/v1/lab/capabilities HTTP/1.1\r\nHost: h3.iot-dns.com\r\n\r\n",
                                 tls=lab_ca.client_context(), server_hostname="h3.iot-dns.com")
    assert status == 200


# ------------------------------------------------------------------------------------------------ url_config


def url_config(cloud: EmulatedCloud, lab_ca: LabCa, body: bytes) -> UrlConfigResponse:
    request = (b"POST /v2/url_config HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: coreHTTP\r\n"
               b"Content-Type: application/json\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    status, _, answer = http_exchange("127.0.0.1", https_port(cloud), request, tls=lab_ca.client_context())
    assert status == 200, answer
    assert b"null" not in answer, f"a null where firmware dereferences: {answer!r}"
    return UrlConfigResponse.from_json(answer)


def test_the_url_config_answer_is_what_the_sdk_parses(cloud: EmulatedCloud, lab_ca: LabCa) -> None:
    """§11.2: httpsSelfUrl read with sscanf("https://%99[^/]%99[^\\n]"), mqttsSelfUrl host:port, caArr[0] a base64
    DER CA that verifies the server; the older members kept."""
    answer = url_config(cloud, lab_ca, b'{"config":[{"key":"httpsSelfUrl","need_ca":true},'
                                       b'{"key":"mqttsSelfUrl","need_ca":true}],"region":"EU","env":"pro"}')
    https = answer.addr("httpsSelfUrl")
    assert https is not None
    parsed = sscanf_https(https)
    assert parsed == (f"127.0.0.1:{https_port(cloud)}", "/d.json"), https
    host, _, port = (answer.addr("mqttsSelfUrl") or "").rpartition(":")
    assert (host, int(port)) == ("127.0.0.1", cloud.mqtt_port)
    assert answer.ca_arr and len(answer.ca_arr) == 1
    assert base64.b64decode(answer.ca_arr[0]) == lab_ca.der
    context = client_context_from_der_base64(answer.ca_arr[0])
    status, _, _ = http_exchange("127.0.0.1", https_port(cloud), b"GET /app/v1/lab/capabilities HTTP/1.1\r\n"
                                 b"Host: 127.0.0.1\r\n\r\n", tls=context)
    assert status == 200
    assert answer.addr("httpUrl") == f"{cloud.plain_http_url}/d.json"
    assert answer.addr("mqttUrl") == f"127.0.0.1:{cloud.plain_mqtt_port}"


def test_a_url_config_request_with_unknown_fields_is_answered(cloud: EmulatedCloud, lab_ca: LabCa) -> None:
    answer = url_config(cloud, lab_ca, b'{"config":[{"key":"httpsSelfUrl","need_ca":true,"extra":1},'
                                       b'{"key":"somethingElse"}],"env":"pro","sdk":{"v":"1.2"},"ttl":5}')
    assert sscanf_https(answer.addr("httpsSelfUrl") or "") is not None and answer.ca_arr


def test_advertise_names_the_host_devices_must_use(lab_ca: LabCa) -> None:
    with EmulatedCloud(tls=TlsSettings(lab_ca), advertise_host="lab.example", broker="none") as advertised:
        request = b"POST /v2/url_config HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n"
        _, _, raw = http_exchange("127.0.0.1", port_of(advertised.http_url), request, tls=lab_ca.client_context(),
                                  server_hostname="lab.example")
    answer = UrlConfigResponse.from_json(raw)
    assert sscanf_https(answer.addr("httpsSelfUrl") or "") == (f"lab.example:{port_of(advertised.http_url)}",
                                                               "/d.json")


def test_without_tls_the_ca_array_is_empty_not_null() -> None:
    with EmulatedCloud(broker="none") as plain:
        status, _, raw = http_exchange("127.0.0.1", port_of(plain.http_url),
                                       b"POST /v2/url_config HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
    assert status == 200 and json.loads(raw)["caArr"] == []


# ------------------------------------------------------------------------------------------------ MQTT over TLS


def test_a_device_logs_in_over_tls_and_not_with_a_wrong_ca(world: World, cloud: EmulatedCloud,
                                                           lab_ca: LabCa) -> None:
    lic = world.licence()  # activated through the HTTPS ATOP endpoint, as the device would
    query, body = build_activation(lic.uuid, lic.auth_key, lic.pid, world.token())
    _, _, answer = http_exchange("127.0.0.1", https_port(cloud), sdk_request(f"/d.json?{query}", body),
                                 tls=lab_ca.client_context())
    activated = decode_response(answer, lic.auth_key, 1).result
    assert activated is not None
    creds = device_credentials(activated["devId"], activated["secKey"])
    device = DeviceMqtt(cloud, creds.client_id, creds.username, creds.password, tls=lab_ca.client_context())
    try:
        assert device.accepted, device.reason
    finally:
        device.close()
    with pytest.raises(ssl.SSLCertVerificationError):
        DeviceMqtt(cloud, creds.client_id, creds.username, creds.password, tls=LabCa.create().client_context())
    assert cloud.plain_mqtt_port is not None
    plain = DeviceMqtt(cloud, creds.client_id, creds.username, creds.password, port=cloud.plain_mqtt_port)
    try:
        assert plain.accepted, "the plain MQTT listener kept for old firmware refused the device"
    finally:
        plain.close()


def test_the_openapi_adapter_hands_devices_the_ca_its_url_config_names(cloud: EmulatedCloud, lab_ca: LabCa) -> None:
    """§11.2: the url_config's caArr is the CA devices trust; the openapi adapter's endpoints carry it as the
    remote adapter's do (``ca``), for raw ATOP over TLS and for ``paircert load --via openapi``."""
    from harness.adapters.openapi import OpenApiCloudAdapter
    from harness.load.openapi import device_endpoints

    assert cloud.plain_http_url is not None
    cloud.openapi.register("tlsurlconfig0001", "tls-url-config-secret-0000000001")
    adapter = OpenApiCloudAdapter(cloud.plain_http_url, client_id="tlsurlconfig0001",
                                  secret="tls-url-config-secret-0000000001",
                                  url_config=f"{cloud.plain_http_url}/v2/url_config")
    try:
        found = adapter.endpoints()
        assert found["atop_url"] == cloud.atop_url and found["ca"] == lab_ca.der_base64
        endpoints = device_endpoints(adapter)
        assert endpoints.ca_der_base64 == lab_ca.der_base64 and endpoints.mqtt_port == cloud.mqtt_port
    finally:
        adapter.close()
