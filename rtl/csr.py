"""Control and status registers: declared once, exported as JSON, served over AXI4-Lite.

A design declares its registers once as a :class:`RegisterMap` of :class:`Register`
objects. The map assigns the byte offsets (32-bit aligned, in declaration order), is
exported with :meth:`RegisterMap.to_json` / :meth:`RegisterMap.write_json` for tests,
drivers and Tcl, and is served to the host by :class:`AxiLiteCsr`, an AXI4-Lite
subordinate. No offset is typed anywhere else.

The bridge does not store register values: each register has a user-side port group
(``r_data`` in, ``w_data`` / ``w_stb`` / ``r_stb`` out) and the design keeps the value
where it belongs (a control flop, a counter, a status flag).

Examples
--------
>>> regs = RegisterMap([
...     Register("id", Access.RO, 32, reset=0x5EED, doc="identification"),
...     Register("control", Access.RW, 4, doc="bit 0: start"),
...     Register("errors", Access.W1C, 8, doc="error flags, write 1 to clear"),
... ])
>>> regs.offset("errors")
8
>>> regs.to_json()["registers"]["control"]["access"]
'rw'
>>> regs.address_width
4
"""

from __future__ import annotations

import enum
import json
import os
from dataclasses import dataclass
from pathlib import Path

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from spikestream.model.config import WORD_BITS

__all__ = [
    "Access",
    "AxiLiteCsr",
    "AxiResponse",
    "DATA_WIDTH",
    "Register",
    "RegisterMap",
    "axi_lite_members",
]

#: Width of the AXI4-Lite data bus and of the register slots, in bits.
DATA_WIDTH = WORD_BITS
_BYTES_PER_WORD = DATA_WIDTH // 8


class Access(enum.Enum):
    """How the host may access a register."""

    #: Read only: reads return ``r_data``; writes are answered SLVERR and change nothing.
    RO = "ro"
    #: Read/write: reads return ``r_data``; a write pulses ``w_stb`` with the new value.
    RW = "rw"
    #: Write one to clear: reads return ``r_data``; a write pulses ``w_stb`` with the
    #: bits to clear in ``w_data`` (the user side clears exactly those bits).
    W1C = "w1c"

    @property
    def writable(self) -> bool:
        return self is not Access.RO


class AxiResponse(enum.IntEnum):
    """AXI ``xRESP`` codes."""

    OKAY = 0b00
    SLVERR = 0b10
    DECERR = 0b11


@dataclass(frozen=True)
class Register:
    """One register of a :class:`RegisterMap`.

    Parameters
    ----------
    name : str
        Python identifier; names the user-side port group (``csr.registers.<name>``) and
        the JSON entry.
    access : Access
        Host access rights.
    width : int
        Significant bits, 1 to 32. Reads return them zero-extended to 32 bits; writes
        keep the low ``width`` bits.
    reset : int
        Value the register holds after reset. The bridge stores nothing, so this is the
        value the user-side storage must reset to; it is exported for drivers and tests.
    doc : str
        One line for the exported map (what the bits mean).
    """

    name: str
    access: Access
    width: int
    reset: int = 0
    doc: str = ""

    def __post_init__(self) -> None:
        if not self.name.isidentifier() or self.name.startswith("_"):
            raise ValueError(f"register name {self.name!r} must be a Python identifier not starting with '_'")
        if not isinstance(self.access, Access):
            raise TypeError(f"register {self.name!r}: access must be an Access, got {self.access!r}")
        if isinstance(self.width, bool) or not isinstance(self.width, int) or not 1 <= self.width <= DATA_WIDTH:
            raise ValueError(f"register {self.name!r}: width {self.width!r} is outside [1, {DATA_WIDTH}]")
        if isinstance(self.reset, bool) or not isinstance(self.reset, int) or not 0 <= self.reset < (1 << self.width):
            raise ValueError(
                f"register {self.name!r}: reset {self.reset!r} is outside the unsigned range "
                f"[0, {(1 << self.width) - 1}] of its {self.width} bits"
            )


class RegisterMap:
    """An ordered set of registers with 32-bit-aligned byte offsets.

    Register ``i`` (in declaration order) sits at byte offset ``4 * i``.

    Parameters
    ----------
    registers : iterable of Register
        The registers, in address order. Names must be unique.
    """

    def __init__(self, registers) -> None:
        self._registers: tuple[Register, ...] = tuple(registers)
        if not self._registers:
            raise ValueError("a register map needs at least one register")
        self._index: dict[str, int] = {}
        for index, register in enumerate(self._registers):
            if not isinstance(register, Register):
                raise TypeError(f"register map entry {index} is {register!r}, expected a Register")
            if register.name in self._index:
                raise ValueError(f"register name {register.name!r} is declared twice")
            self._index[register.name] = index

    def __iter__(self):
        return iter(self._registers)

    def __len__(self) -> int:
        return len(self._registers)

    def __getitem__(self, name: str) -> Register:
        return self._registers[self._lookup(name)]

    def __contains__(self, name: str) -> bool:
        return name in self._index

    def __eq__(self, other) -> bool:
        return isinstance(other, RegisterMap) and other._registers == self._registers

    def __repr__(self) -> str:
        return f"RegisterMap({list(self._registers)!r})"

    def _lookup(self, name: str) -> int:
        try:
            return self._index[name]
        except KeyError:
            raise KeyError(f"no register named {name!r}; registers are {list(self._index)}") from None

    def offset(self, name: str) -> int:
        """Return the byte offset of register ``name``."""
        return _BYTES_PER_WORD * self._lookup(name)

    @property
    def size_bytes(self) -> int:
        """Bytes spanned by the map (``4 * len(self)``)."""
        return _BYTES_PER_WORD * len(self._registers)

    @property
    def address_width(self) -> int:
        """Byte-address bits needed to reach every register (at least 2)."""
        return max(2, (self.size_bytes - 1).bit_length())

    def to_json(self) -> dict:
        """Return the map as a JSON-ready dict.

        Returns
        -------
        dict
            ``{"address_width": int, "data_width": 32, "registers": {name: {"offset",
            "access", "width", "reset", "doc"}}}`` with registers in address order and
            ``access`` the :class:`Access` value (``"ro"``, ``"rw"``, ``"w1c"``).
        """
        return {
            "address_width": self.address_width,
            "data_width": DATA_WIDTH,
            "registers": {
                register.name: {
                    "offset": self.offset(register.name),
                    "access": register.access.value,
                    "width": register.width,
                    "reset": register.reset,
                    "doc": register.doc,
                }
                for register in self._registers
            },
        }

    @classmethod
    def from_json(cls, data: dict) -> "RegisterMap":
        """Rebuild a map from :meth:`to_json` output, checking that the offsets agree."""
        registers = []
        for name, entry in data["registers"].items():
            registers.append(Register(name, Access(entry["access"]), entry["width"], entry["reset"], entry["doc"]))
        regmap = cls(registers)
        for name, entry in data["registers"].items():
            if regmap.offset(name) != entry["offset"]:
                raise ValueError(
                    f"register {name!r} is at offset {entry['offset']:#x} in the JSON but its position "
                    f"in the map gives {regmap.offset(name):#x}"
                )
        return regmap

    def write_json(self, path: str | os.PathLike) -> Path:
        """Write :meth:`to_json` to ``path`` (indented, trailing newline) and return the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n")
        return path


def axi_lite_members(address_width: int, prefix: str = "s_axi") -> dict[str, wiring.Member]:
    """Return the flat ports of an AXI4-Lite subordinate, as signature members.

    Names are ``<prefix>_awaddr`` ... ``<prefix>_rready`` (no ``awprot``/``arprot``:
    protection is ignored), the names cocotbext-axi's ``AxiLiteBus.from_prefix`` and
    Vivado's interface inference expect. A top level can declare the same members
    and forward them 1:1 with :func:`spikestream.rtl.axi.forward_ports`.
    """
    return {
        f"{prefix}_awaddr": In(address_width),
        f"{prefix}_awvalid": In(1),
        f"{prefix}_awready": Out(1),
        f"{prefix}_wdata": In(DATA_WIDTH),
        f"{prefix}_wstrb": In(_BYTES_PER_WORD),
        f"{prefix}_wvalid": In(1),
        f"{prefix}_wready": Out(1),
        f"{prefix}_bresp": Out(2),
        f"{prefix}_bvalid": Out(1),
        f"{prefix}_bready": In(1),
        f"{prefix}_araddr": In(address_width),
        f"{prefix}_arvalid": In(1),
        f"{prefix}_arready": Out(1),
        f"{prefix}_rdata": Out(DATA_WIDTH),
        f"{prefix}_rresp": Out(2),
        f"{prefix}_rvalid": Out(1),
        f"{prefix}_rready": In(1),
    }


def _register_signature(register: Register) -> wiring.Signature:
    return wiring.Signature({
        "r_data": In(register.width),
        "r_stb": Out(1),
        "w_data": Out(register.width),
        "w_stb": Out(1),
    })


class AxiLiteCsr(wiring.Component):
    """AXI4-Lite subordinate serving a :class:`RegisterMap`.

    Parameters
    ----------
    register_map : RegisterMap
        The registers to serve.
    address_width : int, optional
        Width of ``s_axi_awaddr`` / ``s_axi_araddr`` in bits; defaults to
        ``register_map.address_width``. A wider bus (e.g. 12 bits for a 4 KiB window)
        is allowed: the extra words are unmapped.

    Attributes
    ----------
    s_axi_* : Signal
        AXI4-Lite subordinate ports (see :func:`axi_lite_members`), clocked by ``sync``
        with its synchronous active-high reset.
    registers.<name>.r_data : In(width)
        Value the host reads. Sampled in the cycle of the AR handshake
        (``arvalid & arready``); it need not be stable at any other time.
    registers.<name>.r_stb : Out(1)
        High for exactly one cycle, the cycle after the AR handshake of a read of this
        register (for read side effects, such as popping a FIFO; the value returned was
        sampled before the pulse).
    registers.<name>.w_data : Out(width)
        The value written, valid while ``w_stb`` is high and held until the next write.
        RW: the 32-bit write data merged byte by byte, by ``wstrb``, with ``r_data`` as
        sampled in the handshake cycle (bytes with a low strobe keep their value).
        W1C: the bits to clear (write data AND the strobe mask).
        RO: never changes (stays 0).
    registers.<name>.w_stb : Out(1)
        High for exactly one cycle, the cycle after the write handshake of an accepted
        write to this register; never for RO registers.

    Notes
    -----
    Cycle contract (``T`` is the handshake cycle):

    * Write: ``awready`` and ``wready`` are high together, only in cycles where
      ``awvalid & wvalid`` and no write response is pending (so address and data are
      always taken in the same cycle ``T``). At ``T + 1``: ``w_stb`` of the addressed
      register pulses and ``bvalid`` rises with ``bresp``; ``bvalid`` and ``bresp`` hold
      until ``bready``. A next write is accepted from the cycle after the B handshake.
    * Read: ``arready`` is high whenever no read response is pending. At ``T + 1``:
      ``rvalid`` rises with ``rdata`` / ``rresp``, held until ``rready``; ``r_stb`` of
      the addressed register pulses.
    * Reads and writes are independent and may complete in the same cycle; a read in the
      same cycle as a write to the same register returns the value before the write.
    * Write-then-read: if the user side updates ``r_data`` in the cycle after ``w_stb``
      (a register loaded on ``w_stb``), a read whose AR handshake comes after the write's
      B handshake returns the written value (checked formally in
      :mod:`spikestream.sim.formal`).
    * Responses: OKAY for reads of any mapped register and writes to RW / W1C
      registers; SLVERR for writes to RO registers and for any access to an unmapped
      word (with ``rdata = 0``). Nothing ever hangs: every accepted request gets one
      response.
    * Addresses are byte addresses; the two low bits are ignored (word access).
    """

    def __init__(self, register_map: RegisterMap, *, address_width: int | None = None) -> None:
        if not isinstance(register_map, RegisterMap):
            raise TypeError(f"register_map must be a RegisterMap, got {register_map!r}")
        if address_width is None:
            address_width = register_map.address_width
        if address_width < register_map.address_width:
            raise ValueError(
                f"address_width {address_width} cannot reach all {len(register_map)} registers; "
                f"at least {register_map.address_width} bits are needed"
            )
        self.register_map = register_map
        self.address_width = address_width
        members = axi_lite_members(address_width)
        members["registers"] = Out(wiring.Signature({
            register.name: Out(_register_signature(register)) for register in register_map
        }))
        super().__init__(members)

    def register_port(self, name: str):
        """Return the user-side port group of register ``name`` (``r_data``, ``w_data``...)."""
        self.register_map[name]  # raises a KeyError listing the names
        return getattr(self.registers, name)

    def elaborate(self, platform) -> Module:
        m = Module()
        registers = list(self.register_map)
        ports = [self.register_port(register.name) for register in registers]

        # Write channel: address and data are accepted together, one write in flight.
        write_pending = Signal()  # == bvalid
        write_accept = Signal()
        write_word = self.s_axi_awaddr[2:]
        strobe_mask = Cat(*(bit.replicate(8) for bit in self.s_axi_wstrb))
        write_response = Signal(2)
        m.d.comb += [
            write_accept.eq(self.s_axi_awvalid & self.s_axi_wvalid & ~write_pending),
            self.s_axi_awready.eq(write_accept),
            self.s_axi_wready.eq(write_accept),
            self.s_axi_bvalid.eq(write_pending),
            self.s_axi_bresp.eq(write_response),
        ]
        with m.If(write_pending & self.s_axi_bready):
            m.d.sync += write_pending.eq(0)
        for port in ports:
            m.d.sync += port.w_stb.eq(0)
        with m.If(write_accept):
            m.d.sync += [write_pending.eq(1), write_response.eq(AxiResponse.SLVERR)]
            with m.Switch(write_word):
                for index, (register, port) in enumerate(zip(registers, ports)):
                    if not register.access.writable:
                        continue
                    with m.Case(index):
                        if register.access is Access.RW:
                            merged = (self.s_axi_wdata & strobe_mask) | (port.r_data & ~strobe_mask)
                        else:  # W1C: only strobed one bits clear
                            merged = self.s_axi_wdata & strobe_mask
                        m.d.sync += [
                            port.w_data.eq(merged[: register.width]),
                            port.w_stb.eq(1),
                            write_response.eq(AxiResponse.OKAY),
                        ]

        # Read channel: one read in flight, data sampled in the AR handshake cycle.
        read_pending = Signal()  # == rvalid
        read_accept = Signal()
        read_word = self.s_axi_araddr[2:]
        read_data = Signal(DATA_WIDTH)
        read_response = Signal(2)
        m.d.comb += [
            self.s_axi_arready.eq(~read_pending),
            read_accept.eq(self.s_axi_arvalid & ~read_pending),
            self.s_axi_rvalid.eq(read_pending),
            self.s_axi_rdata.eq(read_data),
            self.s_axi_rresp.eq(read_response),
        ]
        with m.If(read_pending & self.s_axi_rready):
            m.d.sync += read_pending.eq(0)
        for port in ports:
            m.d.sync += port.r_stb.eq(0)
        with m.If(read_accept):
            m.d.sync += [
                read_pending.eq(1),
                read_data.eq(0),
                read_response.eq(AxiResponse.SLVERR),
            ]
            with m.Switch(read_word):
                for index, port in enumerate(ports):
                    with m.Case(index):
                        m.d.sync += [
                            read_data.eq(port.r_data),
                            read_response.eq(AxiResponse.OKAY),
                            port.r_stb.eq(1),
                        ]
        return m
