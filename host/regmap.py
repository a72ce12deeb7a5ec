"""The core's register map as the driver sees it: read from the exported JSON (no amaranth).

The registers are declared once in :mod:`spikestream.rtl.registers`; that module needs
amaranth, which the board does not have. The board build therefore writes
:func:`describe_registers` next to the bitstream (``spikestream_core.regmap.json``) and
the driver reads offsets and bit positions from it; on a development machine the
description is made on the spot from the declaration.

>>> regs = RegisterView.from_json(describe_registers())
>>> regs.offset("config_hash") == 4
True
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from spikestream.model.config import is_whole_number

__all__ = ["RegisterView", "describe_registers", "REGMAP_SUFFIX"]

#: File name suffix of the register description written next to a bitstream.
REGMAP_SUFFIX = ".regmap.json"


def describe_registers() -> dict:
    """Return the exported register map plus the bit positions and version word (needs amaranth).

    Returns
    -------
    dict
        :meth:`spikestream.rtl.csr.RegisterMap.to_json` with four more keys:
        ``status_bits``, ``control_bits`` (name -> bit), ``version`` (the value of the
        version register) and ``counters`` (the activity counter registers, which
        ``control.clear_counters`` zeroes).
    """
    from spikestream.rtl.core import COUNTERS
    from spikestream.rtl.registers import CONTROL_BITS, STATUS_BITS, register_map_json, version_word

    return {**register_map_json(), "status_bits": dict(STATUS_BITS), "control_bits": dict(CONTROL_BITS),
            "version": version_word(), "counters": list(COUNTERS)}


@dataclass(frozen=True)
class RegisterView:
    """Offsets and bit positions of the core's registers (from :func:`describe_registers`)."""

    offsets: dict  #: name -> byte offset
    access: dict  #: name -> "ro" | "rw" | "w1c"
    resets: dict  #: name -> value after reset
    widths: dict  #: name -> bits the register holds (a write must fit them)
    status_bits: dict
    control_bits: dict
    version: int  #: expected value of the version register
    counters: tuple  #: names of the activity counter registers

    @classmethod
    def from_json(cls, data: dict) -> "RegisterView":
        missing = [key for key in ("registers", "status_bits", "control_bits", "version", "counters")
                   if key not in data]
        if missing:
            raise ValueError(f"register description lacks {missing}; write it with describe_registers()")
        registers = data["registers"]
        return cls({name: entry["offset"] for name, entry in registers.items()},
                   {name: entry["access"] for name, entry in registers.items()},
                   {name: entry["reset"] for name, entry in registers.items()},
                   {name: entry["width"] for name, entry in registers.items()},
                   dict(data["status_bits"]), dict(data["control_bits"]), int(data["version"]),
                   tuple(data["counters"]))

    @classmethod
    def load(cls, path: str | os.PathLike) -> "RegisterView":
        return cls.from_json(json.loads(Path(path).read_text()))

    @classmethod
    def default(cls) -> "RegisterView":
        """The map of this source tree (development machines; the board reads the JSON)."""
        try:
            return cls.from_json(describe_registers())
        except ImportError as error:
            raise ImportError("the register declaration needs amaranth, which is not installed here; load the "
                              f"register description written next to the bitstream (*{REGMAP_SUFFIX}) with "
                              "RegisterView.load(path)") from error

    def offset(self, name: str) -> int:
        try:
            return self.offsets[name]
        except KeyError:
            raise KeyError(f"no register named {name!r}; registers are {list(self.offsets)}") from None

    def check_write(self, name: str, value) -> int:
        """Return ``value`` as an int if register ``name`` takes it, or say what it takes.

        The core keeps the low ``width`` bits of a write: a value that does not fit would be
        silently wrapped.
        """
        self.offset(name)
        if self.access[name] == "ro":
            raise ValueError(f"register {name!r} is read-only; writable registers are "
                             f"{[n for n, access in self.access.items() if access != 'ro']}")
        width = self.widths[name]
        if not is_whole_number(value) or not 0 <= value < 1 << width:
            raise ValueError(f"register {name!r} holds {width} bits: expected an integer in [0, {(1 << width) - 1}], "
                             f"got {value!r}")
        return int(value)

    def status_field(self, status: int, name: str) -> int:
        """Return a field of the status word: a flag, or the step counter (the highest field, to bit 31)."""
        bit = self.status_bits[name]
        is_top = bit == max(self.status_bits.values())
        return (status >> bit) & (((1 << (32 - bit)) - 1) if is_top else 1)
