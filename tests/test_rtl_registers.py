"""The register map of the core: declared once, exported, served by the top level."""

from __future__ import annotations

import json

from spikestream.model.config import CoreConfig
from spikestream.model.protocol import ErrorFlag
from spikestream.rtl.csr import Access, RegisterMap
from spikestream.rtl.registers import REGISTERS, register_map_json, version_word
from spikestream.rtl.top import TOPLEVEL, generate_verilog


def test_register_map_exports_and_round_trips():
    exported = json.loads(json.dumps(register_map_json()))
    assert RegisterMap.from_json(exported) == REGISTERS
    offsets = [entry["offset"] for entry in exported["registers"].values()]
    assert len(set(offsets)) == len(offsets)
    assert exported["registers"]["version"]["reset"] == version_word()
    assert REGISTERS["errors"].access is Access.W1C and REGISTERS["errors"].width == len(ErrorFlag)
    for name in ("cycles", "synaptic_ops", "events_in", "events_out", "dropped_packets"):
        assert REGISTERS[name].access is Access.RO


def test_top_level_has_the_flat_axi_ports():
    verilog = generate_verilog(CoreConfig(max_neurons=16, max_inputs=8, max_synapses=64, lanes=2, neuron_lanes=2,
                                          timestep_bits=5))
    header = verilog[verilog.index(f"module {TOPLEVEL}("):].split(";", 1)[0]
    for port in ("aclk", "aresetn", "s_axi_awaddr", "s_axi_rdata", "s_axis_tdata", "s_axis_tvalid", "s_axis_tready",
                 "s_axis_tlast", "m_axis_tdata", "m_axis_tvalid", "m_axis_tready", "m_axis_tlast"):
        assert port in header, port
