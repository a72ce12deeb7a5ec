"""The one access protocol every backend implements: registers and stream packets.

The high-level driver (:class:`spikestream.host.driver.SpikeCore`) talks to the core
only through a :class:`Transport`; three implementations exist:

* :class:`spikestream.host.board.BoardTransport`: the PYNQ-Z2 (MMIO + AXI DMA);
* :class:`spikestream.host.simulation.SimulationTransport`: the Verilator RTL simulation
  through cocotbext-axi drivers on the real AXI ports;
* :class:`spikestream.host.golden.GoldenTransport`: a protocol-level emulation of the core
  built on the golden model.

A *packet* (:mod:`spikestream.model.protocol`) is one AXI4-Stream frame: its last word
carries ``tlast``. On the board a frame is one DMA transfer, in simulation one
cocotbext-axi ``AxiStreamFrame``.
"""

from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

__all__ = ["Transport", "TransportError", "TransportTimeout", "LearningUnavailable"]


class TransportError(RuntimeError):
    """A backend could not carry out a register access or a stream transfer."""


class TransportTimeout(TransportError):
    """A stream transfer did not complete in time (the message says what was waited for)."""


class LearningUnavailable(TransportError):
    """Learning was asked of a core built without it, or of a network with no learning rule."""


@runtime_checkable
class Transport(Protocol):
    """Register and stream access to one core.

    ``read`` / ``write`` take byte offsets from the exported register map
    (:data:`spikestream.rtl.registers.REGISTERS`); ``send`` moves one packet (``tlast`` on
    its last word) to the core, ``receive`` returns the next packet the core sent.
    ``send`` must not block on the core's output: a backend keeps accepting output
    packets while it sends (on the board, a receive transfer stays armed), so a host
    that sends a whole sample before reading never deadlocks the core.
    """

    #: Short name for logs and reports ("board", "rtl-sim", "golden").
    name: str
    def read(self, offset: int) -> int:
        """Return the 32-bit register at byte ``offset``."""

    def write(self, offset: int, value: int) -> None:
        """Write the 32-bit register at byte ``offset``."""

    def send(self, words: Sequence[int]) -> None:
        """Send one packet (32-bit words; ``tlast`` on the last)."""

    def receive(self, timeout: float) -> list[int]:
        """Return the next packet from the core; raise :class:`TransportTimeout` after ``timeout`` seconds."""

    def flush(self, timeout: float) -> None:
        """Wait until the core has accepted every word sent; raise :class:`TransportTimeout` after ``timeout``."""
