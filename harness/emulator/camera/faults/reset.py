"""Camera faults of the buttons: the reset button (PROTOCOL.md §6)."""

from __future__ import annotations

from harness.emulator.camera.firmware import EmulatedCamera

from .registry import builtin as _fault


@_fault("ignores-reset-button", "ignores its reset button: a paired camera stays online and never returns to "
        "pairing mode (the factory reset still works)",
        "PROTOCOL.md §6: the reset button ends the session and brings pairing mode back (REQ-BINDING-010)")
class IgnoresResetButton(EmulatedCamera):
    async def reset_async(self) -> None:
        self.record("reset-ignored", state=self.state.value)
