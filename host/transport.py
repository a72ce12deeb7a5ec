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

__all__ = ["Transport", "TransportError", "TransportTimeout", "LearningUnavailable", "LearningPort"]


class TransportError(RuntimeError):
    """A backend could not carry out a register access or a stream transfer."""


class TransportTimeout(TransportError):
    """A stream transfer did not complete in time (the message says what was waited for)."""


class LearningUnavailable(TransportError):
    """The backend has no on-chip learning (the RTL core ignores REWARD so far)."""


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
    #: Learning extension (:class:`LearningPort`), or None when the core cannot learn on chip.
    learning: "LearningPort | None"

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


@runtime_checkable
class LearningPort(Protocol):
    """What a backend with on-chip learning offers beyond the packet format.

    The packet format carries REWARD but not yet the learning rules, the per-group enable
    or a weight readback (they come with the learning RTL); until then this is the
    backend-specific part, used by :meth:`SpikeCore.learn`.
    """

    def enable(self, network, core, enabled: Sequence[bool] | None) -> None:
        """Learn with the rules of ``network`` (one enable flag per synapse group; None: all)."""

    def disable(self) -> None:
        """Stop learning (samples are inference only)."""

    def synapse_state(self):
        """Return the :class:`spikestream.model.golden.SynapseState` the core holds now."""
