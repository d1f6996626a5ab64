"""The real-network path (DESIGN.md "Air"): the same pairing traffic as the in-memory air, on an interface.

- :mod:`harness.net.layers`: scapy layers for the 55AA and 6699 AP frames and the EZ datagrams, bound to their
  ports so that captures dissect;
- :mod:`harness.net.send`: :class:`~harness.net.send.InterfaceSender`, EZ rounds and AP frames on a chosen interface,
  recorded as they go (the ``scapy`` network adapter, :mod:`harness.adapters.scapy`, is built on it);
- :mod:`harness.net.sniff`: :class:`~harness.net.sniff.EzSniffer`, the device side (EZ datagrams into an
  emulated camera's air or a SmartConfig receiver), and bounded packet taps;
- :mod:`harness.net.pcap`: pcap evidence from the air's log, the adapter's records and loopback captures, masked
  by :mod:`harness.net.masking` (every secret overwritten same length, the frames re-encoded);
- ``python -m harness.net send-ez|send-ap``: the app side from a shell.

Only :mod:`harness.net.layers`, :mod:`~harness.net.sniff`, :mod:`~harness.net.masking` and :mod:`~harness.net.pcap`
import scapy; importing
this package imports nothing.
"""
