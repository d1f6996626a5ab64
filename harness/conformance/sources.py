"""The requirement catalogue's sources, named for a reader of a certificate.

The catalogue cites its sources as the project files them (``seeds/device-pairing-qr-mode.txt §Get a token``,
``PROTOCOL.md §3.2``, ``DESIGN.md §Emulator-defined behaviour``); a customer has none of those files. :func:`cite`
names each for a reader: the seed document's title and section, "paircert protocol notes §3.2 (Current Tuya SDK AP
mode)", "paircert design notes, Emulator-defined behaviour". A source it does not know (a vendor catalogue's own
text, "Acme camera spec §4.2") is already written for a reader and is shown as it is.
"""

from __future__ import annotations

#: the seed documents: the public pages the requirements come from
SEED_TITLES: dict[str, str] = {
    "seeds/device-pairing-qr-mode.txt": "Tuya, “Device Pairing” (cameras, QR code mode)",
    "seeds/device-cloud-binding.txt": "Tuya, “How Device–Cloud Binding Works”",
}
PROTOCOL_TITLE = "paircert protocol notes"
DESIGN_TITLE = "paircert design notes"

#: the sections of the protocol notes the catalogue cites, by number
PROTOCOL_SECTIONS: dict[str, str] = {
    "0": "End-to-end flow", "1": "QR mode", "1.1": "QR payload", "1.2": "Key order, encoding, escaping",
    "1.3": "Token string format", "1.4": "How the device splits the token", "1.5": "Device-side QR handling",
    "2": "EZ mode (SmartConfig)", "2.1": "Data conveyed", "2.2": "Primitives", "2.3": "Broadcast channel",
    "2.4": "Multicast channel", "2.5": "Transmission schedule", "2.6": "Encoding caveats", "2.7": "EZ vectors",
    "3": "AP mode (SoftAP)", "3.1": "Legacy AP 3.x", "3.2": "Current Tuya SDK AP mode (LPV 3.5)",
    "3.3": "AP vectors", "4": "Activation API (ATOP)", "4.1": "Endpoints, hosts and discovery",
    "4.2": "Request format", "4.3": "Response format", "4.4": "Errors", "4.5": "A fake server's answers",
    "5": "MQTT after activation", "6": "Binding modes", "7": "App-side pairing API and errors",
    "8": "Licence (UUID + AuthKey)", "9": "BLE provisioning", "9.0": "Two BLE generations",
    "9.1": "BLE end-to-end flow", "9.2": "GATT", "9.3": "Advertising", "9.4": "Transport layer", "9.5": "Frame layer",
    "9.6": "BLE security", "9.7": "BLE commands and payloads", "9.8": "After provisioning",
    "9.9": "Device reaction to bad input", "9.10": "Security observations",
    "11": "What a genuine device SDK sends and expects",
    "11.1": "TLS everywhere", "11.2": "The url_config answer", "11.3": "HTTP as the SDK sends it",
    "11.4": "MQTT-ATOP", "11.5": "ATOP calls after activation", "11.6": "Binding by UUID over MQTT",
    "11.7": "Retries", "11.8": "Timing seen", "11.9": "TuyaOpen (Linux)",
    "11.9.1": "How the Linux SDK gets its token and endpoints", "11.9.2": "Activation, thing.device.opensdk.active",
    "11.9.3": "MQTT after activation (TuyaOpen)", "11.9.4": "TLS (TuyaOpen)", "11.9.5": "Mismatches and needs",
}


def cite(source: str, *, titled: bool = True) -> str:
    """``source`` as a reader of the certificate knows it (see the module's docstring); ``titled``: with the title
    of a protocol notes section."""
    document, _, section = source.partition(" §")
    if document in SEED_TITLES:
        return f"{SEED_TITLES[document]}, section “{section}”" if section else SEED_TITLES[document]
    if document == "PROTOCOL.md" and section:
        title = PROTOCOL_SECTIONS.get(section) if titled else None
        return f"{PROTOCOL_TITLE} §{section}" + (f" ({title})" if title else "")
    if document == "DESIGN.md" and section:
        return f"{DESIGN_TITLE}, “{section}”"
    return source


def cite_all(sources: tuple[str, ...] | list[str]) -> list[str]:
    """Every source named for a reader, in order, each once; the protocol notes' sections in one citation
    ("paircert protocol notes §0, §7")."""
    cited: list[str] = []
    sections = [s.partition(" §")[2] for s in sources if s.startswith("PROTOCOL.md §")]
    for source in sources:
        if source.startswith("PROTOCOL.md §"):
            if sections:
                cited.append(f"{PROTOCOL_TITLE} " + ", ".join(f"§{n}" for n in dict.fromkeys(sections)))
                sections = []
            continue
        cited.append(cite(source))
    return list(dict.fromkeys(cited))


__all__ = ["DESIGN_TITLE", "PROTOCOL_SECTIONS", "PROTOCOL_TITLE", "SEED_TITLES", "cite", "cite_all"]
