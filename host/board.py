"""The PYNQ-Z2 backend: the core's registers by MMIO, its packets by AXI DMA (numpy + pynq).

:class:`BoardTransport` is the :class:`~spikestream.host.transport.Transport` of the
board. It is written against the few calls of the pynq objects it uses (``read`` /
``write`` of the core's MMIO, the DMA channels' ``transfer`` / ``idle`` / ``error`` /
``wait`` / ``transferred``, ``allocate``), so that it is tested off the board with fakes
of exactly those calls. pynq itself is imported only by :func:`register_driver` and
:func:`open_overlay`, on the board.

Every packet is its own DMA transfer: the core finds packet ends by ``tlast``, which the
AXI DMA in simple mode sets on the last beat of a transfer. A receive transfer stays
armed at all times and is serviced while sending, so the core never stalls on output
while the host is still sending (see :class:`~spikestream.host.transport.Transport`).
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import json
import logging
import os
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from spikestream.model.config import WORD_BITS, WORD_MASK, CoreConfig
from spikestream.model.protocol import (CONFIG_WORDS, FANOUT_TABLE_WORDS, FANOUT_WORDS, LOAD_PAYLOAD_WORDS, NEURON_WORDS,
                                        RULE_WORDS, STATE_WORDS, STEP_TRAILER_WORDS, synapse_rows)

from .transport import TransportError, TransportTimeout

__all__ = ["VLNV", "CORE_PARAMETER_PREFIX", "core_parameters", "core_from_parameters", "BoardTransport",
           "max_packet_words", "send_buffer_words",
           "register_driver", "overlay_parts", "open_overlay", "CORE_CONFIG_SUFFIX"]

log = logging.getLogger("spikestream.host.board")

#: Vendor, library, name, version of the packaged IP; the pynq driver binds to it.
VLNV = "spikestream.org:spikestream:spikestream_core:1.0"
#: IP parameters that carry the CoreConfig fields (``CORE_MAX_NEURONS`` ...), read back from the ``.hwh``.
CORE_PARAMETER_PREFIX = "CORE_"
#: The core configuration JSON written next to the bitstream (``<overlay>.core.json``).
CORE_CONFIG_SUFFIX = ".core.json"
#: Bytes per stream word (the DMA counts bytes).
WORD_BYTES = WORD_BITS // 8

# Bits of the AXI DMA status register (PG021 DMASR) that the channel's ``error`` reports.
_DMA_ERRORS = {0x10: "internal error (transfer length 0 or a stream longer than the buffer)",
               0x20: "slave error (memory not accessible)", 0x40: "decode error (invalid address)"}


def core_parameters(core: CoreConfig) -> dict[str, str]:
    """Return the IP parameters that describe ``core`` (name -> value string, as in a ``.hwh``)."""
    return {CORE_PARAMETER_PREFIX + name.upper(): (str(value).lower() if isinstance(value, bool) else str(value))
            for name, value in core.to_dict().items()}


def core_from_parameters(parameters: dict) -> CoreConfig | None:
    """Rebuild the CoreConfig from hardware metadata (``description["parameters"]``); None if absent."""
    fields = {f.name: f.type for f in dataclasses.fields(CoreConfig)}
    values = {}
    for name in fields:
        key = CORE_PARAMETER_PREFIX + name.upper()
        if key not in parameters:
            return None
        text = str(parameters[key])
        values[name] = text.lower() == "true" if text.lower() in ("true", "false") else int(text)
    return CoreConfig(**values)


def max_packet_words(core: CoreConfig) -> int:
    """Longest packet the core sends: NEURON_STATE, a STEP with every neuron spiking, all SYNAPSE_ROWS, or
    the FANOUT_TABLE of every source."""
    return 1 + max(STATE_WORDS * core.max_neurons, core.max_neurons + STEP_TRAILER_WORDS,
                   synapse_rows(core) * core.lanes, FANOUT_TABLE_WORDS * core.num_sources)


def send_buffer_words(core: CoreConfig, max_payload: int = LOAD_PAYLOAD_WORDS) -> int:
    """Longest packet the driver sends: EVENTS with every input channel, or a load packet of ``max_payload``
    words (:func:`~spikestream.model.protocol.encode_load`; CONFIG carries one exponent per group)."""
    return 1 + max(core.max_inputs, max_payload, RULE_WORDS, NEURON_WORDS, FANOUT_WORDS, core.lanes,
                   CONFIG_WORDS + core.max_groups)


class BoardTransport:
    """Registers by MMIO, packets by AXI DMA (simple mode, one transfer per packet).

    Parameters
    ----------
    mmio
        The core's register window: ``read(offset) -> int``, ``write(offset, value)``
        (the bound pynq driver, or a ``pynq.MMIO``).
    dma
        The ``pynq.lib.dma.DMA`` whose MM2S feeds ``s_axis`` and whose S2MM takes ``m_axis``.
    allocate : callable
        ``allocate(shape, dtype) -> buffer`` (``pynq.allocate``): DMA-able memory.
    core : CoreConfig
        The configuration the bitstream was built from (sizes the receive buffer).
    max_send_words : int, optional
        Longest packet to send (the send buffer's size); default :func:`send_buffer_words`.
    poll_seconds : float
        Sleep between polls of a busy DMA channel (0: spin).
    send_timeout : float
        Seconds a send waits for the previous packet's transfer to finish.
    """

    name = "board"

    def __init__(self, mmio, dma, allocate: Callable, core: CoreConfig, max_send_words: int | None = None,
                 poll_seconds: float = 0.0, send_timeout: float = 10.0):
        self.mmio = mmio
        self.core = core
        self._send_channel = dma.sendchannel
        self._receive_channel = dma.recvchannel
        if self._send_channel is None or self._receive_channel is None:
            raise TransportError("the AXI DMA needs both channels (MM2S to s_axis, S2MM from m_axis); this one has "
                                 f"send={self._send_channel is not None}, receive={self._receive_channel is not None}")
        max_send_words = send_buffer_words(core) if max_send_words is None else max_send_words
        # pynq's DMA refuses a transfer longer than its length register (c_sg_length_width bits) counts.
        limit = getattr(dma, "buffer_max_size", None)
        for what, words in (("send", max_send_words), ("receive", max_packet_words(core))):
            if limit is not None and WORD_BYTES * words > limit:
                raise TransportError(f"the {what} buffer needs {WORD_BYTES * words} bytes, the AXI DMA's length register counts "
                                     f"to {limit}: build the overlay with a wider c_sg_length_width (the board build "
                                     f"sets it from the core) or a core with fewer max_synapses")
        self._send_buffer = allocate(shape=(max_send_words,), dtype=np.uint32)
        self._receive_buffer = allocate(shape=(max_packet_words(core),), dtype=np.uint32)
        self._received: collections.deque[list[int]] = collections.deque()
        self._receive_armed = False
        self._sending = False
        self.poll_seconds = poll_seconds
        self.send_timeout = send_timeout
        self.transfers_sent = 0
        log.info("board transport for %s: send buffer %d words, receive buffer %d words", core.to_json(),
                 max_send_words, max_packet_words(core))

    # ---- registers -------------------------------------------------------------------
    def read(self, offset: int) -> int:
        return int(self.mmio.read(offset)) & WORD_MASK

    def write(self, offset: int, value: int) -> None:
        self.mmio.write(offset, int(value) & WORD_MASK)

    # ---- DMA -------------------------------------------------------------------------
    @staticmethod
    def _check(channel, what: str) -> None:
        if channel.error:
            status = channel._mmio.read(channel._offset + 4) if hasattr(channel, "_mmio") else 0
            reasons = [text for bit, text in _DMA_ERRORS.items() if status & bit] or ["error bit set"]
            raise TransportError(f"AXI DMA {what} channel failed: {', '.join(reasons)} (DMASR {status:#x}); "
                                 "reload the overlay to reset the DMA")

    def _arm_receive(self) -> None:
        with _dma_errors("S2MM (receive)"):
            self._receive_channel.transfer(self._receive_buffer)
        self._receive_armed = True

    def _service_receive(self) -> None:
        """Collect a finished receive transfer and re-arm; never blocks."""
        if not self._receive_armed:
            self._arm_receive()
            return
        self._check(self._receive_channel, "S2MM (receive)")
        if self._receive_channel.idle:
            with _dma_errors("S2MM (receive)"):
                self._receive_channel.wait()  # idle already: reads the length and invalidates the cache
            words = self._receive_channel.transferred // WORD_BYTES
            self._received.append([int(w) for w in self._receive_buffer[:words]])
            self._arm_receive()

    def _wait_send_idle(self, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while self._sending:
            self._service_receive()
            self._check(self._send_channel, "MM2S (send)")
            if self._send_channel.idle:
                with _dma_errors("MM2S (send)"):
                    self._send_channel.wait()
                self._sending = False
                return
            if time.monotonic() > deadline:
                raise TransportTimeout(f"{what}: the MM2S transfer of the previous packet did not finish within "
                                       f"{timeout} s (the core stopped accepting input)")
            if self.poll_seconds:
                time.sleep(self.poll_seconds)

    def send(self, words: Sequence[int]) -> None:
        count = len(words)
        if count == 0:
            raise TransportError("cannot send an empty packet")
        if count > self._send_buffer.shape[0]:
            raise TransportError(f"packet of {count} words exceeds the send buffer of {self._send_buffer.shape[0]}; "
                                 "encode the load with a smaller max_payload")
        self._wait_send_idle(self.send_timeout, "send")
        self._send_buffer[:count] = np.asarray(words, np.int64) & WORD_MASK
        with _dma_errors("MM2S (send)"):
            self._send_channel.transfer(self._send_buffer, 0, WORD_BYTES * count)
        self._sending = True
        self.transfers_sent += 1
        self._service_receive()

    def flush(self, timeout: float) -> None:
        self._wait_send_idle(timeout, "flush")

    def receive(self, timeout: float) -> list[int]:
        deadline = time.monotonic() + timeout
        while True:
            if self._sending:
                self._check(self._send_channel, "MM2S (send)")
                if self._send_channel.idle:
                    with _dma_errors("MM2S (send)"):
                        self._send_channel.wait()
                    self._sending = False
            self._service_receive()
            if self._received:
                return self._received.popleft()
            if time.monotonic() > deadline:
                raise TransportTimeout(f"no packet from the core within {timeout} s (S2MM armed, "
                                       f"MM2S {'busy' if self._sending else 'idle'})")
            if self.poll_seconds:
                time.sleep(self.poll_seconds)


@contextlib.contextmanager
def _dma_errors(what: str):
    """pynq raises a plain RuntimeError when a channel halts or fails between our check and its call."""
    try:
        yield
    except RuntimeError as error:
        raise TransportError(f"AXI DMA {what} channel: {error}; reload the overlay to reset the DMA") from error


# ---- on the board (pynq) ------------------------------------------------------------------
_DRIVER = None


def register_driver():
    """Define (once) and return the pynq ``DefaultIP`` driver bound to :data:`VLNV`.

    Defining the class registers it with pynq, so ``pynq.Overlay`` instantiates it for
    every spikestream core in the design.
    """
    global _DRIVER
    if _DRIVER is not None:
        return _DRIVER
    from pynq import DefaultIP

    class SpikestreamCoreDriver(DefaultIP):
        """pynq driver of the spikestream core: its registers and its configuration."""

        bindto = [VLNV]

        def __init__(self, description):
            super().__init__(description=description)
            #: The CoreConfig the bitstream was built from (from the ``.hwh``), or None.
            self.core_config = core_from_parameters(description.get("parameters", {}))

    _DRIVER = SpikestreamCoreDriver
    return _DRIVER


def overlay_parts(ip_dict: dict, bitfile, core_name: str | None = None, dma_name: str | None = None
                  ) -> tuple[str, str]:
    """The instance names of the spikestream core and its AXI DMA in an overlay's ``ip_dict``.

    The first of each kind unless named; a name that is not an IP of that kind is refused.
    """
    cores = [name for name, entry in ip_dict.items() if entry.get("type") == VLNV]
    dmas = [name for name, entry in ip_dict.items() if "axi_dma" in entry.get("type", "")]
    for kind, found, chosen in ((f"IP of type {VLNV}", cores, core_name), ("AXI DMA", dmas, dma_name)):
        if not found:
            raise TransportError(f"{bitfile} holds no {kind}; IPs: {sorted(ip_dict)}")
        if chosen is not None and chosen not in found:
            raise TransportError(f"{bitfile}: {chosen!r} is not an {kind}; those are {found}")
    return core_name or cores[0], dma_name or dmas[0]


def open_overlay(bitfile: str | os.PathLike, core_name: str | None = None, dma_name: str | None = None,
                 timeout: float = 10.0):
    """Download ``bitfile`` and return a :class:`~spikestream.host.driver.SpikeCore` on it.

    The ``.hwh`` next to the bitstream gives the core's configuration (its ``CORE_*``
    parameters), else the ``<bitfile>.core.json`` written by the build; the register map
    comes from ``<bitfile>.regmap.json``.
    """
    import pynq

    from .driver import SpikeCore
    from .regmap import REGMAP_SUFFIX, RegisterView

    driver = register_driver()
    overlay = pynq.Overlay(str(bitfile))
    core_name, dma_name = overlay_parts(overlay.ip_dict, bitfile, core_name, dma_name)
    core_ip = getattr(overlay, core_name)
    if not isinstance(core_ip, driver):
        raise TransportError(f"{core_name} is bound to {type(core_ip).__name__}, not the spikestream driver")
    dma = getattr(overlay, dma_name)
    base = Path(bitfile).with_suffix("")
    core = core_ip.core_config
    json_path = base.with_name(base.name + CORE_CONFIG_SUFFIX)
    if core is None and json_path.is_file():
        core = CoreConfig.from_dict(json.loads(json_path.read_text()))
    if core is None:
        raise TransportError(f"neither the .hwh nor {json_path} says which CoreConfig {bitfile} was built from")
    registers = RegisterView.load(base.with_name(base.name + REGMAP_SUFFIX))
    transport = BoardTransport(core_ip, dma, pynq.allocate, core, send_timeout=timeout)
    chip = SpikeCore(transport, core, registers=registers, timeout=timeout)
    chip.overlay = overlay
    return chip
