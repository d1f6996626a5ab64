"""Device profiles: the bundled ones load, every kind of mistake is named precisely, secrets never leak."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness import bundled
from harness.cli import main
from harness.profiles.schema import (
    CAPABILITIES,
    Profile,
    ProfileError,
    SecretRef,
    bundled_profile_paths,
    bundled_profiles_dir,
    load_profile,
    parse_profile,
)

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = ("camera-strong", "plug-medium", "bulb-weak", "example-real-camera", "cloud-tuya-openapi")

GOOD = """\
[device]
name = "Test camera"
kind = "camera"
pid = "abcdefgh12345678"
firmware = "1.0.0"

[capabilities]
pairing_modes = ["qr", "ez"]
ez_channels = ["broadcast"]
binding_mode = "strong"
mqtt_protocol_version = "2.3"
activation_api = "thing.device.opensdk.active"

[parameters]
token_ttl_s = 600

[parameters.wifi]
ssid = "lab"
password = "env:PC_TEST_WIFI_PASSWORD"

[parameters.licence]
uuid = "env:PC_TEST_UUID"
authkey = "env:PC_TEST_AUTHKEY"

[adapters]
cloud = { name = "remote", args = { url = "http://127.0.0.1:1", token = "env:PC_TEST_CLOUD_TOKEN" } }
device = "emulated"
network = "air"
"""

SECRETS = {
    "PC_TEST_WIFI_PASSWORD": "wifi-S3CRET-value",
    "PC_TEST_UUID": "uuidS3CRETvalue0",
    "PC_TEST_AUTHKEY": "authkeyS3CRETvalue00000000000000",
    "PC_TEST_CLOUD_TOKEN": "cloud-S3CRET-token",
}


def write(tmp_path: Path, text: str, name: str = "dut.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    return str(caught.value)


# ------------------------------------------------------------------------------------ bundled profiles

def test_the_bundled_directory_holds_exactly_the_documented_profiles() -> None:
    assert bundled_profiles_dir() == ROOT / "profiles"  # the editable install maps the checkout's profiles/
    assert sorted(p.stem for p in bundled_profile_paths()) == sorted(BUNDLED)


@pytest.mark.parametrize("name", BUNDLED)
def test_every_bundled_profile_loads_by_name_and_by_path(name: str) -> None:
    by_name = load_profile(name)
    by_path = load_profile(ROOT / "profiles" / f"{name}.toml")
    assert by_name.name == by_path.name == name
    assert by_name.hash() == by_path.hash()
    assert by_name.path == ROOT / "profiles" / f"{name}.toml"


def test_the_bundled_profiles_claim_what_the_issue_says() -> None:
    camera, plug, bulb = load_profile("camera-strong"), load_profile("plug-medium"), load_profile("bulb-weak")
    assert (camera.device.kind, camera.capabilities.binding_mode) == ("camera", "strong")
    assert camera.capabilities.pairing_modes == ["qr", "ez", "ap", "ble"]
    assert camera.capabilities.ble_generation == "v2" and plug.capabilities.ble_generation == "v1"
    assert camera.capabilities.ap_variants == ["legacy", "lpv35"]
    assert camera.adapters_summary() == "emulated / emulated / air"
    assert (plug.device.kind, plug.capabilities.binding_mode, plug.capabilities.pairing_modes) == (
        "plug", "medium", ["ez", "ap", "ble"])
    assert (bulb.device.kind, bulb.capabilities.binding_mode, bulb.capabilities.pairing_modes) == (
        "bulb", "weak", ["ez", "ap"])
    real = load_profile("example-real-camera")
    assert real.adapters.device.name == "operator"
    assert real.hooks.power_cycle is not None and real.hooks.power_cycle.timeout_s == 20
    assert real.hooks.enter_pairing_mode is not None and real.hooks.enter_pairing_mode.timeout_s == 60
    assert real.parameters.wifi is not None and real.parameters.wifi.password == SecretRef("PAIRCERT_WIFI_PASSWORD")


def test_defaults_fill_in_the_parameters() -> None:
    profile = load_profile("camera-strong")
    assert profile.parameters.token_ttl_s == 600
    assert profile.parameters.activator_timeout_s == 100
    assert profile.parameters.real_time_waits is False


def test_a_bare_file_name_that_is_not_here_falls_back_to_the_bundled_profile(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_profile("camera-strong.toml").name == "camera-strong"
    write(tmp_path, GOOD, "camera-strong.toml")
    assert load_profile("camera-strong.toml").path == Path("camera-strong.toml")  # a file here wins


def test_an_unknown_name_lists_the_bundled_profiles() -> None:
    with pytest.raises(ProfileError, match=r"no such profile.*camera-strong"):
        load_profile("no-such-device")


def test_names_are_also_looked_up_on_the_profile_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, GOOD, "my-camera.toml")
    monkeypatch.setenv("PAIRCERT_PROFILE_PATH", str(tmp_path))
    assert load_profile("my-camera").name == "my-camera"


def test_a_missing_bundled_directory_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bundled, "PROFILES_PACKAGE", "harness.bundled.gone")
    with pytest.raises(ProfileError, match="bundled profiles directory not found"):
        load_profile("camera-strong")
    write(tmp_path, GOOD, "my-camera.toml")  # a profile on PAIRCERT_PROFILE_PATH is still found
    monkeypatch.setenv("PAIRCERT_PROFILE_PATH", str(tmp_path))
    assert load_profile("my-camera").name == "my-camera"


# -------------------------------------------------------------------------------------------- errors

CASES = [
    pytest.param(GOOD.replace('firmware = "1.0.0"', 'firmware = "1.0.0'),
                 r"dut\.toml: line 5, column \d+: invalid TOML", id="toml-syntax"),
    pytest.param(GOOD.replace('binding_mode = "strong"', 'binding_mod = "strong"'),
                 r"dut\.toml: capabilities\.binding_mod: unknown key \(did you mean 'binding_mode'\?\)",
                 id="unknown-key"),
    pytest.param(GOOD.replace("token_ttl_s = 600", 'token_ttl_s = "600"'),
                 r"dut\.toml: parameters\.token_ttl_s: expected a valid number, got '600'", id="wrong-type"),
    pytest.param(GOOD.replace('binding_mode = "strong"', 'binding_mode = "medium"'),
                 r"dut\.toml: capabilities\.binding_mode: expected 'strong' for a device of kind 'camera', "
                 r"got 'medium': Powered by Tuya cameras support the strong binding mode", id="camera-not-strong"),
    pytest.param(GOOD.replace('pid = "abcdefgh12345678"', 'pid = "abcdefgh1234567"'),
                 r"dut\.toml: device\.pid: expected a product id \(PID\) of exactly 16 letters or digits "
                 r"\(PROTOCOL\.md §8\), got 'abcdefgh1234567' \(15 characters\)", id="pid-length"),
    pytest.param(GOOD.replace('"env:PC_TEST_WIFI_PASSWORD"', '"env:PC TEST"'),
                 r"dut\.toml: parameters\.wifi\.password: expected an env:NAME reference", id="bad-env-reference"),
    pytest.param(GOOD.replace('binding_mode = "strong"', 'binding_mode = "firm"'),
                 r"dut\.toml: capabilities\.binding_mode: expected 'strong', 'medium' or 'weak', got 'firm'",
                 id="bad-literal"),
    pytest.param(GOOD.replace('pairing_modes = ["qr", "ez"]', 'pairing_modes = ["qr", "bt"]'),
                 r"dut\.toml: capabilities\.pairing_modes\[1\]: expected 'qr', 'ez', 'ap' or 'ble', got 'bt'",
                 id="bad-list-item"),
    pytest.param(GOOD.replace('pairing_modes = ["qr", "ez"]', 'pairing_modes = ["qr", "ez", "ble"]'),
                 r"dut\.toml: capabilities\.ble_generation: expected 'v1' or 'v2' \(PROTOCOL\.md §9\.0\), because "
                 r"pairing mode 'ble' is claimed", id="ble-without-generation"),
    pytest.param(GOOD.replace('pairing_modes = ["qr", "ez"]', 'pairing_modes = ["qr", "ez"]\nble_generation = "v2"'),
                 r"dut\.toml: capabilities\.ble_generation: expected no ble_generation \(or add 'ble' to "
                 r"pairing_modes\): pairing mode 'ble' is not claimed", id="generation-without-ble"),
    pytest.param(GOOD.replace('pairing_modes = ["qr", "ez"]',
                              'pairing_modes = ["qr", "ez", "ble"]\nble_generation = "v3"'),
                 r"dut\.toml: capabilities\.ble_generation: expected 'v1' or 'v2', got 'v3'", id="bad-generation"),
    pytest.param(GOOD.replace('ez_channels = ["broadcast"]', ""),
                 r"dut\.toml: capabilities\.ez_channels: expected at least one of 'broadcast', 'multicast', "
                 r"because pairing mode 'ez' is claimed", id="ez-without-channels"),
    pytest.param(GOOD.replace('network = "air"', 'network = "scapy"'),
                 r"dut\.toml: adapters\.network\.interface: expected the lab interface", id="scapy-without-interface"),
    pytest.param(GOOD.replace('device = "emulated"', 'device = "not a spec"'),
                 r"dut\.toml: adapters\.device\.name: expected a registered adapter name", id="bad-adapter-spec"),
    pytest.param(GOOD.replace('kind = "camera"\n', ""),
                 r"dut\.toml: device\.kind: required key is missing", id="missing-key"),
    pytest.param(GOOD.replace("[parameters]\n", "[parameters]\nregion = \"ZZ\"\n"),
                 r"dut\.toml: parameters\.region: expected one of AY, AZ, .* \(PROTOCOL\.md §1\.3\), got 'ZZ'",
                 id="bad-region"),
    pytest.param("surprise = true\n" + GOOD,
                 r"dut\.toml: surprise: unknown key; expected one of: adapters, capabilities", id="unknown-top-level"),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_each_mistake_names_the_file_the_key_and_the_expectation(tmp_path: Path, text: str, expected: str) -> None:
    message = error_of(tmp_path, text)
    assert re.search(expected, message), message
    assert str(tmp_path / "dut.toml") in message


def test_several_mistakes_are_reported_together(tmp_path: Path) -> None:
    text = GOOD.replace("token_ttl_s = 600", "token_ttl_s = -5").replace('kind = "camera"', 'kind = "toaster"')
    lines = error_of(tmp_path, text).splitlines()
    assert len(lines) == 2
    assert any("device.kind: expected 'camera', 'plug', 'bulb' or 'other', got 'toaster'" in line for line in lines)
    assert any("parameters.token_ttl_s: expected a number greater than 0, got -5" in line for line in lines)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match=r"nope\.toml: file not found"):
        load_profile(tmp_path / "nope.toml")


def test_an_unset_variable_is_named_when_the_secret_is_resolved(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PC_TEST_WIFI_PASSWORD", raising=False)
    profile = load_profile(write(tmp_path, GOOD))  # loading does not need the secret
    assert profile.parameters.wifi is not None and profile.parameters.wifi.password is not None
    with pytest.raises(ProfileError) as caught:
        profile.parameters.wifi.password.resolve()
    assert str(caught.value) == (
        f"{tmp_path / 'dut.toml'}: parameters.wifi.password: environment variable PC_TEST_WIFI_PASSWORD is not "
        "set (expected it to hold the secret that env:PC_TEST_WIFI_PASSWORD refers to)")


def test_a_literal_secret_is_refused_without_being_repeated(tmp_path: Path) -> None:
    message = error_of(tmp_path, GOOD.replace('"env:PC_TEST_WIFI_PASSWORD"', '"hunter2-literal"'))
    assert "parameters.wifi.password: expected an env:NAME reference" in message
    assert "hunter2-literal" not in message


def test_a_literal_admin_key_in_the_adapters_args_is_refused_without_being_repeated(tmp_path: Path) -> None:
    text = GOOD.replace('token = "env:PC_TEST_CLOUD_TOKEN"', 'admin_key = "literal-admin-key-123"')
    assert text != GOOD
    message = error_of(tmp_path, text)
    assert "adapters.cloud.args.admin_key: expected an env:NAME reference" in message
    assert "literal-admin-key-123" not in message
    fine = text.replace('"literal-admin-key-123"', '"env:PC_TEST_ADMIN_KEY"')
    args = load_profile(write(tmp_path, fine)).adapters.cloud.resolved_args({"PC_TEST_ADMIN_KEY": "k"})
    assert args["admin_key"] == "k"


def test_a_licence_of_the_wrong_shape_is_named_on_resolution(tmp_path: Path) -> None:
    profile = load_profile(write(tmp_path, GOOD))
    assert profile.parameters.licence is not None
    env = {**SECRETS, "PC_TEST_AUTHKEY": "short"}
    with pytest.raises(ProfileError, match=r"parameters\.licence\.authkey: expected env:PC_TEST_AUTHKEY to hold an "
                                           r"AuthKey of 32 characters"):
        profile.parameters.licence.resolve(env)
    assert profile.parameters.licence.resolve(SECRETS).authkey.get_secret_value() == SECRETS["PC_TEST_AUTHKEY"]


# ------------------------------------------------------------------------------------------- secrets

def test_secrets_never_appear_in_repr_str_dumps_or_hash_input(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    profile = load_profile(write(tmp_path, GOOD))
    assert profile.parameters.wifi is not None and profile.parameters.wifi.password is not None
    assert profile.parameters.licence is not None
    resolved = [
        profile.parameters.wifi.password.resolve(),
        profile.parameters.licence.resolve(),
        profile.adapters.cloud.args["token"].resolve(),
    ]
    assert resolved[0].get_secret_value() == SECRETS["PC_TEST_WIFI_PASSWORD"]
    assert profile.adapters.cloud.resolved_args()["token"] == SECRETS["PC_TEST_CLOUD_TOKEN"]
    outputs = [repr(profile), str(profile), repr(profile.model_dump()), profile.model_dump_json(),
               repr(profile.parameters), str(profile.adapters), repr(profile.summary()), *map(repr, resolved),
               *map(str, resolved)]
    for output in outputs:
        for value in SECRETS.values():
            assert value not in output
    dumped = profile.model_dump(mode="json")
    assert dumped["parameters"]["wifi"]["password"] == "env:PC_TEST_WIFI_PASSWORD"
    assert dumped["adapters"]["cloud"]["args"]["token"] == "env:PC_TEST_CLOUD_TOKEN"


def test_the_hash_covers_the_content_but_not_the_secret_values(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    first = load_profile(write(tmp_path, GOOD)).hash()
    monkeypatch.setenv("PC_TEST_WIFI_PASSWORD", "something else")
    assert load_profile(write(tmp_path, GOOD)).hash() == first
    assert re.fullmatch(r"[0-9a-f]{64}", first)
    # comments and layout do not change it; a claim does
    assert load_profile(write(tmp_path, "# a comment\n" + GOOD)).hash() == first
    assert load_profile(write(tmp_path, GOOD.replace("token_ttl_s = 600", "token_ttl_s = 300"))).hash() != first


# ---------------------------------------------------------------------------------------- claims, N/A

def test_claims_and_the_reason_a_capability_is_not_claimed() -> None:
    camera, bulb = load_profile("camera-strong"), load_profile("bulb-weak")
    assert camera.claims("pairing_mode:qr") and camera.claims("qr") and camera.claims("ez_channel:multicast")
    assert not bulb.claims("qr")
    assert bulb.na_reason("pairing_mode:qr") == "profile bulb-weak does not claim pairing mode 'qr'"
    assert bulb.na_reason("ez", "ez_channel:multicast") == "profile bulb-weak does not claim EZ channel 'multicast'"
    assert bulb.na_reason("ap_variant:lpv35") == "profile bulb-weak does not claim AP variant 'lpv35'"
    assert camera.na_reason("binding_mode:weak") == "profile camera-strong claims binding mode 'strong', not 'weak'"
    assert camera.na_reason("real_time_waits") == (
        "profile camera-strong does not claim real-time waits (parameters.real_time_waits)")
    assert camera.na_reason("licence") == "profile camera-strong does not claim a licence (parameters.licence)"
    assert camera.na_reason("ez", "ap", "power_cycle") is None
    assert camera.claims("factory-reset") and bulb.claims("ez-channel:broadcast")


def test_every_listed_capability_is_understood_and_typos_are_not() -> None:
    camera = load_profile("camera-strong")
    for capability in CAPABILITIES:
        camera.claims(capability)
    with pytest.raises(ValueError, match="unknown capability 'pairing_mode:bt'"):
        camera.claims("pairing_mode:bt")


def test_a_device_pool_gives_each_worker_its_own_device(tmp_path: Path) -> None:
    text = GOOD + '\n[[adapters.device_pool]]\nid = "a"\nargs = { port = 1 }\n' \
                  '\n[[adapters.device_pool]]\nid = "b"\nargs = { port = 2 }\n'
    adapters = load_profile(write(tmp_path, text)).adapters
    assert adapters.device_for(None).args == {}
    assert adapters.device_for(0).args == {"port": 1, "pool_id": "a"}
    assert adapters.device_for(3).args == {"port": 2, "pool_id": "b"}
    duplicate = text.replace('id = "b"', 'id = "a"')
    assert "adapters.device_pool: expected each pool id once" in error_of(tmp_path, duplicate)


def test_parse_profile_validates_a_mapping_too() -> None:
    data = {"device": {"name": "x", "kind": "plug", "pid": "abcdefgh12345678", "firmware": "1"},
            "capabilities": {"pairing_modes": ["ap"], "ap_variants": ["legacy"], "binding_mode": "weak",
                             "mqtt_protocol_version": "2.1", "activation_api": "tuya.device.active"}}
    profile = parse_profile(data, source="inline", name="inline")
    assert isinstance(profile, Profile) and profile.name == "inline"
    with pytest.raises(ProfileError, match=r"inline: capabilities\.ap_variants"):
        parse_profile({**data, "capabilities": {**data["capabilities"], "ap_variants": []}}, source="inline")


# ------------------------------------------------------------------------------------------------ CLI

def test_paircert_profiles_lists_the_bundled_profiles() -> None:
    result = CliRunner().invoke(main, ["profiles"])
    assert result.exit_code == 0, result.output
    for name in BUNDLED:
        assert name in result.output
    assert "remote / operator / scapy@eth1" in result.output
    assert "medium" in result.output and "weak" in result.output


def test_paircert_profiles_check_accepts_valid_files() -> None:
    paths = [str(p) for p in bundled_profile_paths()]
    result = CliRunner().invoke(main, ["profiles", "--check", "--schema-only", *paths])
    assert result.exit_code == 0, result.output
    assert result.output.count("ok: ") == len(paths)


def test_paircert_profiles_check_exits_2_with_the_error_lines(tmp_path: Path) -> None:
    bad = write(tmp_path, GOOD.replace('binding_mode = "strong"', 'binding_mode = "weak"'), "bad.toml")
    good = write(tmp_path, GOOD, "good.toml")
    result = CliRunner().invoke(main, ["profiles", "--check", "--schema-only", str(good), str(bad)])
    assert result.exit_code == 2
    assert f"ok: {good}" in result.stdout
    assert f"{bad}: capabilities.binding_mode: expected 'strong'" in result.stderr


def test_paths_without_check_are_a_usage_error() -> None:
    result = CliRunner().invoke(main, ["profiles", "camera-strong"])
    assert result.exit_code == 2
    assert "--check" in result.output


def test_the_installed_command_lists_the_profiles() -> None:
    exe = Path(sys.executable).parent / "paircert"
    if not exe.exists():
        pytest.skip(f"no paircert console script beside {sys.executable}")
    done = subprocess.run([str(exe), "profiles"], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "camera-strong" in done.stdout and "bulb-weak" in done.stdout


# ------------------------------------------------------------------------------------ TLS and binding by UUID


def test_camera_strong_runs_with_tls_and_claims_binding_by_uuid_and_the_others_are_plain() -> None:
    """``make demo`` exercises the path real firmware takes (PROTOCOL.md §11.1, §11.6); the other emulated
    profiles keep the suites running with TLS off."""
    camera, plug, bulb = load_profile("camera-strong"), load_profile("plug-medium"), load_profile("bulb-weak")
    assert camera.parameters.tls and camera.claims("bind_by_uuid") and camera.claims("bind-by-uuid")
    assert not plug.parameters.tls and not bulb.parameters.tls
    assert plug.na_reason("bind_by_uuid") == \
        "profile plug-medium does not claim binding by UUID (capabilities.bind_by_uuid)"


@pytest.mark.parametrize(("line", "key"), [("tls = \"yes\"", r"parameters\.tls"),
                                           ("bind_by_uuid = 1.5", r"capabilities\.bind_by_uuid")])
def test_tls_and_bind_by_uuid_are_booleans(tmp_path: Path, line: str, key: str) -> None:
    section = "[parameters]\n" if line.startswith("tls") else "[capabilities]\n"
    text = GOOD.replace(section, section + line + "\n", 1)
    assert re.search(rf"dut\.toml: {key}: ", error_of(tmp_path, text))
