"""The device side of the EZ multicast channel (PROTOCOL.md §2.4): sections rebuilt from destination addresses.

Every ``226.seq.hi.lo`` address carries one byte pair at a sequence number; a section is accepted only when its
``[len, len]`` pair, its CRC-32 and, for the password, the AES zero padding all check (§2.2, §2.4 step 1).

- **The password/token collision of §2.4 step 6**: a 49-64 byte password needs 35 addresses, sequence numbers
  0-34, and 32-34 are also the first three addresses of the token section (base 32). PROTOCOL.md could not
  establish what firmware does. This decoder keeps *every* byte pair seen at a sequence number (with a count)
  instead of one, so both sections' pairs survive at 32-34; each section is then searched over its candidates,
  best-supported first, and only a combination whose length pair, CRC-32 (and for the password the AES zero
  padding) checks is accepted. The token section's own ``[len, len]`` and CRC-32 pick its pairs, the password's
  CRC-32 picks the others, so such passwords decode from the multicast channel alone. The same search is what
  makes unrelated ``226.x`` traffic harmless.
- **Bounds**: a flood cannot exhaust the decoder: at most 32 candidates are kept per slot (the weakest is
  dropped), and a section is searched, at most 256 combinations, only when a new candidate changes a ranking.
"""

from __future__ import annotations

from itertools import chain

from harness.protocol._candidates import Votes, best_first
from harness.protocol.smartconfig.codec import (
    PASSWORD_BASE,
    PASSWORD_MAX,
    PREAMBLE_BASE,
    PREAMBLE_MAGIC,
    SSID_BASE,
    SSID_MAX,
    TOKEN_BASE,
    TOKEN_GROUP_MAX,
    EzCredentials,
    aes_cipher,
    crc32,
    decode_multicast_address,
)

_CANDIDATE_CAP = 32
_SEARCH_BUDGET = 256
# Sections by name: (base, shortest plaintext, longest plaintext); §2.4 step 3 and the codec's valid input space.
_SECTIONS: dict[str, tuple[int, int, int]] = {
    "ssid": (SSID_BASE, 1, SSID_MAX),
    "password": (PASSWORD_BASE, 0, PASSWORD_MAX),
    "token": (TOKEN_BASE, 1, TOKEN_GROUP_MAX),
}


def _payload_size(name: str, length: int) -> int:
    return -(-length // 16) * 16 if name == "password" else length


def _span(name: str) -> range:
    base, _, longest = _SECTIONS[name]
    return range(base, base + (6 + _payload_size(name, longest) + 1) // 2)


_SPANS = {name: _span(name) for name in _SECTIONS}
_PREAMBLE_PAIRS = {
    PREAMBLE_BASE + k: (PREAMBLE_MAGIC[2 * k], PREAMBLE_MAGIC[2 * k + 1]) for k in range(len(PREAMBLE_MAGIC) // 2)
}


class MulticastDecoder:
    """Fed multicast destination addresses one at a time; :attr:`result` is set once all three sections check."""

    def __init__(self) -> None:
        self.result: EzCredentials | None = None
        self._preamble_seen: set[int] = set()
        self._pairs: list[Votes[tuple[int, int]]] = [
            Votes(_CANDIDATE_CAP) for _ in range(max(span.stop for span in _SPANS.values()))
        ]
        self._sections: dict[str, bytes] = {}
        self._decryptor = aes_cipher().decryptor()
        self._blocks: dict[bytes, bytes] = {}

    @property
    def preamble_seen(self) -> bool:
        """Whether every address of the ``TYST01`` preamble has been seen (§2.4 step 3)."""
        return len(self._preamble_seen) == len(_PREAMBLE_PAIRS)

    @property
    def sections(self) -> frozenset[str]:
        """The sections decoded so far: ``ssid``, ``password``, ``token``."""
        return frozenset(self._sections)

    def feed(self, address: str) -> None:
        """One multicast datagram to ``address``. Well-formed addresses outside the EZ alphabet are ignored."""
        decoded = decode_multicast_address(address)
        if decoded is None or self.result is not None:
            return
        seq, low, high = decoded
        if seq in _PREAMBLE_PAIRS:
            if _PREAMBLE_PAIRS[seq] == (low, high):
                self._preamble_seen.add(seq)
            return
        if seq >= len(self._pairs) or not self._pairs[seq].add((low, high)):
            return
        for name, span in _SPANS.items():
            if seq in span and name not in self._sections:
                found = self._solve(name)
                if found is not None:
                    self._sections[name] = found
        if len(self._sections) == len(_SECTIONS):
            self.result = EzCredentials(**self._sections)

    def _solve(self, name: str) -> bytes | None:
        """Search the section's candidates (§2.4 step 6: a sequence number may hold pairs of two sections)."""
        base, shortest, longest = _SECTIONS[name]
        budget = _SEARCH_BUDGET
        for first, second in self._pairs[base].ranked():
            if first != second or not shortest <= first <= longest:
                continue
            size = _payload_size(name, first)
            total = 6 + size
            choices = []
            for k in range(1, (total + 1) // 2):
                options = self._pairs[base + k].ranked()
                if 2 * k + 1 == total:
                    options = [pair for pair in options if pair[1] == 0]  # §2.4 step 2: the odd section's pad
                if not options:
                    break
                choices.append(options)
            else:
                for combo in best_first(choices):
                    budget -= 1
                    plain = self._check_section(name, first, size, combo)
                    if plain is not None:
                        return plain
                    if budget <= 0:
                        return None
        return None

    def _check_section(self, name: str, length: int, size: int, combo: list[tuple[int, int]]) -> bytes | None:
        # combo holds pairs 1.. of the section: the CRC-32 bytes, then the payload (§2.4 step 1).
        raw = bytes(chain.from_iterable(combo))
        plain = raw[4:4 + size]
        if name == "password":
            plain = self._decrypt(plain)
            if any(plain[length:]):
                return None  # §2.2: the padding after the plaintext is zero bytes
            plain = plain[:length]
        # §2.4 step 1: the CRC-32 is of the plaintext, little-endian.
        return plain if crc32(plain) == int.from_bytes(raw[:4], "little") else None

    def _decrypt(self, ciphertext: bytes) -> bytes:
        """AES-ECB decryption block by block (§2.2); the search retries the same blocks, so they are cached."""
        if len(self._blocks) > 4096:
            self._blocks.clear()
        plain = bytearray()
        for start in range(0, len(ciphertext), 16):
            block = ciphertext[start:start + 16]
            if block not in self._blocks:
                self._blocks[block] = self._decryptor.update(block)
            plain += self._blocks[block]
        return bytes(plain)


__all__ = ["MulticastDecoder"]
