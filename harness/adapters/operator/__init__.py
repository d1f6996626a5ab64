"""The ``operator`` device adapter for a real camera on the bench (:mod:`~harness.adapters.operator.device`): shell
hooks or a person (:mod:`~harness.adapters.operator.hooks`), and the QR drawn on a terminal
(:mod:`~harness.adapters.operator.terminal_qr`)."""
