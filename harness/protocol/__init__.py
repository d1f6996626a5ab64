"""Sans-IO codecs, one module per wire format of Tuya-style pairing.

Nothing in this package touches a socket, a thread, a clock or a random source: bytes in, records
out, records in, bytes out. Clocks, nonces and randomness are parameters. ``tests/test_layers.py``
enforces this.
"""

from harness.protocol.errors import LocalProtocolError, ProtocolError, RemoteProtocolError

__all__ = ["LocalProtocolError", "ProtocolError", "RemoteProtocolError"]
