"""AXI4-Stream ports and stream buffers.

Inside the core, streams are Amaranth ``stream.Signature`` interfaces (``payload``,
``valid``, ``ready``); at the top level they are flat AXI4-Stream ports
(``s_axis_tdata``, ``s_axis_tvalid``, ...) so that Vivado infers the interface and
cocotbext-axi's ``AxiStreamBus.from_prefix(dut, "s_axis")`` finds the signals. This
module holds both views and the blocks that join them:

* :func:`axi_stream_members` -- the flat port members of an AXI4-Stream port.
* :func:`forward_ports` -- connect a top level's flat ports 1:1 to a submodule's.
* :class:`SkidBuffer` -- a registered two-entry buffer on an Amaranth stream.
* :class:`StreamFifo` -- a small FIFO on an Amaranth stream.
* :class:`AxiStreamInput` / :class:`AxiStreamOutput` -- flat AXI4-Stream port
  <-> registered Amaranth stream of :func:`axi_stream_layout` payloads.

Handshake rules every stream here follows (AMBA AXI4-Stream, section 2.2): a transfer
happens in a cycle where ``valid & ready``; once ``valid`` is high it stays high, with
the payload unchanged, until the transfer; ``ready`` may depend on ``valid`` but
``valid`` never waits for ``ready``.
"""

from __future__ import annotations

import enum

from amaranth.hdl import Module, Shape, Signal, Value
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from spikestream.model.config import WORD_BITS

__all__ = [
    "AXI_STREAM_DATA_WIDTH",
    "AxiStreamInput",
    "AxiStreamOutput",
    "Role",
    "SkidBuffer",
    "StreamFifo",
    "axi_stream_layout",
    "axi_stream_members",
    "forward_ports",
]

#: Data width of the core's AXI4-Stream ports: one protocol word per beat (the PYNQ-Z2 AXI DMA's 32-bit stream).
AXI_STREAM_DATA_WIDTH = WORD_BITS


class Role(enum.Enum):
    """Which side of an AXI4-Stream a port is on."""

    #: Receives beats: ``tdata``/``tvalid``/``tlast`` in, ``tready`` out (``s_axis``).
    SUBORDINATE = "subordinate"
    #: Sends beats: ``tdata``/``tvalid``/``tlast`` out, ``tready`` in (``m_axis``).
    MANAGER = "manager"


def axi_stream_layout(data_width: int = AXI_STREAM_DATA_WIDTH) -> data.StructLayout:
    """Return the payload layout of one AXI4-Stream beat: ``data`` then ``last``."""
    return data.StructLayout({"data": data_width, "last": 1})


def axi_stream_members(prefix: str, role: Role, data_width: int = AXI_STREAM_DATA_WIDTH) -> dict[str, wiring.Member]:
    """Return the flat ports of one AXI4-Stream port, as signature members.

    Parameters
    ----------
    prefix : str
        Port name prefix, conventionally ``"s_axis"`` (input) or ``"m_axis"`` (output).
    role : Role
        :attr:`Role.SUBORDINATE` for a port that receives beats, :attr:`Role.MANAGER`
        for one that sends them.
    data_width : int
        Width of ``tdata`` in bits.

    Returns
    -------
    dict
        ``{prefix_tdata, prefix_tvalid, prefix_tready, prefix_tlast}`` members, to merge
        into a component's signature (``super().__init__({**axi_stream_members(...), ...})``).
    """
    forward = In if role is Role.SUBORDINATE else Out
    backward = Out if role is Role.SUBORDINATE else In
    return {
        f"{prefix}_tdata": forward(data_width),
        f"{prefix}_tvalid": forward(1),
        f"{prefix}_tready": backward(1),
        f"{prefix}_tlast": forward(1),
    }


def forward_ports(m: Module, outer: wiring.Component, inner: wiring.Component, prefix: str) -> None:
    """Connect every port of ``inner`` whose name starts with ``prefix + "_"`` to ``outer``'s.

    Use it in a top level that exposes a submodule's flat ports (AXI4-Lite
    ``s_axi_*``, AXI4-Stream ``s_axis_*``/``m_axis_*``) under the same names: inputs of
    ``inner`` are driven from ``outer``'s ports of the same name, outputs drive them.
    Both must have the same members with that prefix, with the same flows and widths.
    """
    start = prefix + "_"
    inner_members = {name: member for name, member in inner.signature.members.items() if name.startswith(start)}
    outer_members = {name: member for name, member in outer.signature.members.items() if name.startswith(start)}
    if not inner_members:
        raise ValueError(f"{type(inner).__name__} has no ports starting with {start!r}")
    if inner_members != outer_members:
        raise ValueError(
            f"ports starting with {start!r} differ: {type(outer).__name__} has {outer_members}, "
            f"{type(inner).__name__} has {inner_members}"
        )
    for name, member in inner_members.items():
        if member.flow is wiring.In:
            m.d.comb += getattr(inner, name).eq(getattr(outer, name))
        else:
            m.d.comb += getattr(outer, name).eq(getattr(inner, name))


class SkidBuffer(wiring.Component):
    """Two-entry registered stream buffer: full throughput, no combinational path.

    Parameters
    ----------
    payload_shape : ShapeLike
        Shape of the payload (e.g. :func:`axi_stream_layout`).

    Attributes
    ----------
    i : In(stream.Signature(payload_shape))
        Input. ``i.ready`` is a register output: it does not depend on ``i.valid`` or
        ``o.ready`` in the same cycle. It is low only while both entries are full.
    o : Out(stream.Signature(payload_shape))
        Output. ``o.valid`` and ``o.payload`` are register outputs. A beat accepted on
        ``i`` in cycle ``T`` is offered on ``o`` from ``T + 1`` at the earliest; beats
        leave in arrival order, none lost or duplicated. With ``o.ready`` held high the
        buffer passes one beat per cycle.
    """

    def __init__(self, payload_shape) -> None:
        self.payload_shape = payload_shape
        super().__init__({
            "i": In(stream.Signature(payload_shape)),
            "o": Out(stream.Signature(payload_shape)),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        # The output register is the first entry; the skid register catches the beat
        # that arrives in the cycle the output stalls (i.ready was promised a cycle ago).
        skid_valid = Signal()
        skid_payload = Signal(self.payload_shape)
        m.d.comb += self.i.ready.eq(~skid_valid)
        output_free = ~self.o.valid | self.o.ready
        with m.If(output_free):
            with m.If(skid_valid):
                m.d.sync += [self.o.payload.eq(skid_payload), self.o.valid.eq(1), skid_valid.eq(0)]
            with m.Else():
                m.d.sync += self.o.valid.eq(self.i.valid)
                with m.If(self.i.valid):
                    m.d.sync += self.o.payload.eq(self.i.payload)
        with m.Elif(self.i.valid & self.i.ready):
            m.d.sync += [skid_payload.eq(self.i.payload), skid_valid.eq(1)]
        return m


class StreamFifo(wiring.Component):
    """Small synchronous FIFO on an Amaranth stream (``amaranth.lib.fifo.SyncFIFOBuffered``).

    Parameters
    ----------
    payload_shape : ShapeLike
        Shape of the payload.
    depth : int
        Number of beats it holds (at least 2).

    Attributes
    ----------
    i : In(stream.Signature(payload_shape))
        Input; ``i.ready`` is high while the FIFO is not full (registered).
    o : Out(stream.Signature(payload_shape))
        Output; ``o.valid``/``o.payload`` are registered. A beat written in cycle ``T``
        is offered from ``T + 2`` at the earliest (one cycle more than
        :class:`SkidBuffer`), in order, none lost or duplicated.
    level : Out(range(depth + 1))
        Beats held.
    """

    def __init__(self, payload_shape, depth: int) -> None:
        if depth < 2:
            raise ValueError(f"StreamFifo depth {depth} is below 2 (use SkidBuffer for a register stage)")
        self.payload_shape = payload_shape
        self.depth = depth
        super().__init__({
            "i": In(stream.Signature(payload_shape)),
            "o": Out(stream.Signature(payload_shape)),
            "level": Out(range(depth + 1)),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        width = Shape.cast(self.payload_shape).width
        m.submodules.storage = storage = fifo.SyncFIFOBuffered(width=width, depth=self.depth)
        m.d.comb += [
            storage.w_data.eq(Value.cast(self.i.payload)),
            storage.w_en.eq(self.i.valid),
            self.i.ready.eq(storage.w_rdy),
            self.o.payload.eq(storage.r_data),
            self.o.valid.eq(storage.r_rdy),
            storage.r_en.eq(self.o.ready),
            self.level.eq(storage.level),
        ]
        return m


class AxiStreamInput(wiring.Component):
    """Flat AXI4-Stream subordinate port -> registered Amaranth stream.

    Parameters
    ----------
    data_width : int
        Width of ``s_axis_tdata``.
    prefix : str
        Prefix of the flat ports (default ``"s_axis"``).

    Attributes
    ----------
    s_axis_tdata, s_axis_tvalid, s_axis_tready, s_axis_tlast
        The AXI4-Stream subordinate port (``tready`` is a register output).
    o : Out(stream.Signature(axi_stream_layout(data_width)))
        The beats, in order, through a :class:`SkidBuffer` (one cycle of latency, full
        throughput); ``o.payload.data`` is ``tdata``, ``o.payload.last`` is ``tlast``.
    """

    def __init__(self, data_width: int = AXI_STREAM_DATA_WIDTH, *, prefix: str = "s_axis") -> None:
        self.prefix = prefix
        self.layout = axi_stream_layout(data_width)
        super().__init__({
            **axi_stream_members(prefix, Role.SUBORDINATE, data_width),
            "o": Out(stream.Signature(self.layout)),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.buffer = buffer = SkidBuffer(self.layout)
        port = lambda suffix: getattr(self, f"{self.prefix}_{suffix}")
        m.d.comb += [
            buffer.i.payload.data.eq(port("tdata")),
            buffer.i.payload.last.eq(port("tlast")),
            buffer.i.valid.eq(port("tvalid")),
            port("tready").eq(buffer.i.ready),
        ]
        wiring.connect(m, buffer.o, wiring.flipped(self.o))
        return m


class AxiStreamOutput(wiring.Component):
    """Amaranth stream -> registered flat AXI4-Stream manager port.

    Parameters
    ----------
    data_width : int
        Width of ``m_axis_tdata``.
    prefix : str
        Prefix of the flat ports (default ``"m_axis"``).

    Attributes
    ----------
    i : In(stream.Signature(axi_stream_layout(data_width)))
        The beats to send (``i.ready`` is a register output).
    m_axis_tdata, m_axis_tvalid, m_axis_tready, m_axis_tlast
        The AXI4-Stream manager port, driven from a :class:`SkidBuffer` (register
        outputs; one cycle of latency, full throughput).
    """

    def __init__(self, data_width: int = AXI_STREAM_DATA_WIDTH, *, prefix: str = "m_axis") -> None:
        self.prefix = prefix
        self.layout = axi_stream_layout(data_width)
        super().__init__({
            "i": In(stream.Signature(self.layout)),
            **axi_stream_members(prefix, Role.MANAGER, data_width),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.buffer = buffer = SkidBuffer(self.layout)
        port = lambda suffix: getattr(self, f"{self.prefix}_{suffix}")
        wiring.connect(m, wiring.flipped(self.i), buffer.i)
        m.d.comb += [
            port("tdata").eq(buffer.o.payload.data),
            port("tlast").eq(buffer.o.payload.last),
            port("tvalid").eq(buffer.o.valid),
            buffer.o.ready.eq(port("tready")),
        ]
        return m
