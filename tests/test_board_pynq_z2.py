"""The PYNQ-Z2 overlay project: IP-XACT, Tcl and handoff agree with the register map and the CoreConfig.

Nothing here needs Vivado: the XML is parsed, the Tcl runs in ``tclsh`` with recording
stubs for the Vivado commands, and the ``.hwh`` goes through pynq's own parser when a
pynq venv exists (the ``pynq_python`` fixture: ``scripts/install-pynq-venv``, run by ``make test``).
"""

import json
import os
import stat
import subprocess
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import numpy as np
import pytest

from spikestream.boards.build import main as build_main
from spikestream.boards.build import write_project
from spikestream.boards.pynq_z2.design import OverlayDesign, core_ports, vlnv_parts
from spikestream.boards.tclcheck import run_with_stubs, tclsh_available
from spikestream.host.board import VLNV, core_from_parameters, overlay_parts
from spikestream.cli import main as cli_main
from spikestream.host.regmap import RegisterView
from spikestream.host.transport import TransportError
from spikestream.model.config import CoreConfig
from spikestream.model.fileformat import save_network
from spikestream.model.generate import RandomNetworkOptions, random_network
from spikestream.rtl.registers import REGISTERS, version_word
from spikestream.rtl.top import AXI_LITE_ADDRESS_BITS
from spikestream.sim.cases import SMALL_CORE

SPIRIT = "{http://www.spiritconsortium.org/XMLSchema/SPIRIT/1685-2009}"
DESIGN = OverlayDesign(core=SMALL_CORE)
needs_tclsh = pytest.mark.skipif(not tclsh_available(), reason="tclsh is not installed (Debian package tcl)")


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return write_project(DESIGN, tmp_path_factory.mktemp("pynq-z2"))


def _text(element, path):
    found = element.find(path)
    assert found is not None, f"{path} missing"
    return found.text


def test_component_xml_describes_the_core(project):
    root = ElementTree.parse(project.out / "ip" / "component.xml").getroot()
    assert ":".join(_text(root, SPIRIT + key) for key in ("vendor", "library", "name", "version")) == VLNV
    ports = {p.find(SPIRIT + "name").text: p for p in root.iter(SPIRIT + "port")}
    expected = {port.name: port for port in core_ports(SMALL_CORE)}
    assert set(ports) == set(expected)
    for name, port in expected.items():
        wire = ports[name].find(SPIRIT + "wire")
        assert _text(wire, SPIRIT + "direction") == port.direction
        vector = wire.find(SPIRIT + "vector")
        width = 1 if vector is None else int(_text(vector, SPIRIT + "left")) - int(_text(vector, SPIRIT + "right")) + 1
        assert width == port.width, name
    assert ports["s_axi_awaddr"] is not None and expected["s_axi_awaddr"].width == AXI_LITE_ADDRESS_BITS
    assert expected["s_axis_tdata"].width == expected["m_axis_tdata"].width == 32


def test_component_bus_interfaces_and_associations(project):
    root = ElementTree.parse(project.out / "ip" / "component.xml").getroot()
    interfaces = {_text(bus, SPIRIT + "name"): bus for bus in root.iter(SPIRIT + "busInterface")}
    assert set(interfaces) == {"s_axi", "s_axis", "m_axis", "aclk", "aresetn"}
    kinds = {name: bus.find(SPIRIT + "busType").get(SPIRIT + "name") for name, bus in interfaces.items()}
    assert kinds == {"s_axi": "aximm", "s_axis": "axis", "m_axis": "axis", "aclk": "clock", "aresetn": "reset"}
    assert interfaces["s_axi"].find(SPIRIT + "slave") is not None
    assert interfaces["s_axis"].find(SPIRIT + "slave") is not None
    assert interfaces["m_axis"].find(SPIRIT + "master") is not None
    mapped = {_text(m, f"{SPIRIT}physicalPort/{SPIRIT}name") for m in root.iter(SPIRIT + "portMap")}
    assert mapped == {port.name for port in core_ports(SMALL_CORE)}, "every port belongs to one interface"

    def parameters(bus):
        return {_text(p, SPIRIT + "name"): _text(p, SPIRIT + "value") for p in bus.iter(SPIRIT + "parameter")}

    clock = parameters(interfaces["aclk"])
    assert clock["ASSOCIATED_BUSIF"].split(":") == ["s_axi", "s_axis", "m_axis"]
    assert clock["ASSOCIATED_RESET"] == "aresetn" and int(clock["FREQ_HZ"]) == SMALL_CORE.clock_hz
    assert parameters(interfaces["aresetn"])["POLARITY"] == "ACTIVE_LOW"


def test_component_address_block_is_the_register_map(project):
    root = ElementTree.parse(project.out / "ip" / "component.xml").getroot()
    block = root.find(f"{SPIRIT}memoryMaps/{SPIRIT}memoryMap/{SPIRIT}addressBlock")
    assert int(_text(block, SPIRIT + "range")) == 1 << AXI_LITE_ADDRESS_BITS
    registers = {_text(r, SPIRIT + "name"): int(_text(r, SPIRIT + "addressOffset"), 16)
                 for r in block.iter(SPIRIT + "register")}
    assert registers == {register.name: REGISTERS.offset(register.name) for register in REGISTERS}
    component_parameters = {_text(p, SPIRIT + "name"): _text(p, SPIRIT + "value")
                            for p in root.find(SPIRIT + "parameters")}
    assert core_from_parameters(component_parameters) == SMALL_CORE


def test_json_files_next_to_the_bitstream(project):
    assert CoreConfig.from_dict(json.loads(project.core_json.read_text())) == SMALL_CORE
    view = RegisterView.load(project.regmap_json)
    assert view.offsets == {register.name: REGISTERS.offset(register.name) for register in REGISTERS}
    assert project.core_json.parent == project.bitstream.parent == project.regmap_json.parent


def test_handoff_describes_addresses_parameters_and_registers(project):
    root = ElementTree.parse(project.sim_hwh).getroot()
    modules = {m.get("INSTANCE"): m for m in root.iter("MODULE")}
    core = modules[DESIGN.core_instance]
    assert core.get("VLNV") == VLNV
    parameters = {p.get("NAME"): p.get("VALUE") for p in core.find("PARAMETERS")}
    assert core_from_parameters(parameters) == SMALL_CORE
    ranges = {r.get("INSTANCE"): r for r in modules[DESIGN.ps_instance].iter("MEMRANGE")}
    core_range = ranges[DESIGN.core_instance]
    assert int(core_range.get("BASEVALUE"), 16) == DESIGN.core_base
    assert int(core_range.get("HIGHVALUE"), 16) - DESIGN.core_base + 1 == 1 << AXI_LITE_ADDRESS_BITS
    offsets = {r.get("NAME"): int({p.get("NAME"): p.get("VALUE") for p in r}["ADDRESS_OFFSET"], 16)
               for r in core.iter("REGISTER")}
    assert offsets == {register.name: REGISTERS.offset(register.name) for register in REGISTERS}
    # Reset values as the built core reads them: the configuration hash is the build's, not 0.
    resets = {r.get("NAME"): int({p.get("NAME"): p.get("VALUE") for p in r}["RESET_VALUE"], 16)
              for r in core.iter("REGISTER")}
    assert resets["config_hash"] == SMALL_CORE.hash32() != 0 and resets["version"] == version_word()
    dma = {p.get("NAME"): p.get("VALUE") for p in modules[DESIGN.dma_instance].find("PARAMETERS")}
    assert dma["c_include_sg"] == "0" and dma["c_include_mm2s"] == dma["c_include_s2mm"] == "1"


def test_pynq_parses_the_handoff(project, pynq_python):
    """pynq 4.0.0's own metadata parser builds the ip_dict the board driver reads."""
    script = f"""
import json
from pynqmetadata.frontends import HwhFrontend
from pynq.metadata.runtime_metadata_parser import RuntimeMetadataParser
parser = RuntimeMetadataParser(HwhFrontend(_hwhfile={str(project.sim_hwh)!r}))
print(json.dumps({{name: {{"type": e["type"], "phys_addr": e.get("phys_addr"), "addr_range": e.get("addr_range"),
                           "parameters": dict(e["parameters"]), "registers": sorted(e.get("registers", {{}}))}}
                  for name, e in parser.ip_dict.items()}}))
"""
    completed = subprocess.run([str(pynq_python), "-c", script], capture_output=True, text=True,
                               timeout=120)
    assert completed.returncode == 0, completed.stderr[-2000:]
    ip_dict = json.loads(completed.stdout)
    core = ip_dict[DESIGN.core_instance]
    assert core["type"] == VLNV and core["phys_addr"] == DESIGN.core_base
    assert core["addr_range"] == 1 << AXI_LITE_ADDRESS_BITS
    assert core_from_parameters(core["parameters"]) == SMALL_CORE
    assert core["registers"] == sorted(register.name for register in REGISTERS)
    dma = ip_dict[DESIGN.dma_instance]
    assert dma["phys_addr"] == DESIGN.dma_base and dma["parameters"]["c_include_sg"] == "0"
    # What open_overlay picks from it (pynq.Overlay itself needs the board).
    assert overlay_parts(ip_dict, project.bitstream) == (DESIGN.core_instance, DESIGN.dma_instance)
    with pytest.raises(TransportError, match=rf"'{DESIGN.dma_instance}' is not an IP of type"):
        overlay_parts(ip_dict, project.bitstream, core_name=DESIGN.dma_instance)
    without_dma = {name: entry for name, entry in ip_dict.items() if name != DESIGN.dma_instance}
    with pytest.raises(TransportError, match="holds no AXI DMA"):
        overlay_parts(without_dma, project.bitstream)


@needs_tclsh
def test_block_design_tcl_builds_the_overlay(project, tmp_path):
    calls = run_with_stubs(project.out / "block_design.tcl", tmp_path)
    cells = {call[-1]: call[call.index("-vlnv") + 1] for call in calls if call[0] == "create_bd_cell"}
    assert cells[DESIGN.core_instance] == VLNV
    assert cells[DESIGN.dma_instance].startswith("xilinx.com:ip:axi_dma:")
    assert cells[DESIGN.ps_instance].startswith("xilinx.com:ip:processing_system7:")
    assert any(v.startswith("xilinx.com:ip:proc_sys_reset:") for v in cells.values())
    properties = {}
    for call in calls:
        if call[:2] == ["set_property", "-dict"]:
            words = call[2].split()
            properties.setdefault(call[3], {}).update(zip(words[::2], words[1::2]))
    assert properties[DESIGN.ps_instance]["CONFIG.PCW_USE_S_AXI_HP0"] == "1"
    assert float(properties[DESIGN.ps_instance]["CONFIG.PCW_FPGA0_PERIPHERAL_FREQMHZ"]) == SMALL_CORE.clock_hz / 1e6
    assert properties[DESIGN.dma_instance]["CONFIG.c_include_sg"] == "0"
    assert properties[DESIGN.dma_instance]["CONFIG.c_sg_length_width"] == str(DESIGN.dma_length_bits)
    connections = [call for call in calls if call[0] == "connect_bd_intf_net"]
    pins = [call for call in calls if call[0] == "get_bd_intf_pins"]
    pairs = {(pins[2 * k][1], pins[2 * k + 1][1]) for k in range(len(connections))}
    assert (f"{DESIGN.dma_instance}/M_AXIS_MM2S", f"{DESIGN.core_instance}/s_axis") in pairs
    assert (f"{DESIGN.core_instance}/m_axis", f"{DESIGN.dma_instance}/S_AXIS_S2MM") in pairs
    assert ("axi_mem_intercon/M00_AXI", f"{DESIGN.ps_instance}/S_AXI_HP0") in pairs
    offsets = [call for call in calls if call[:2] == ["set_property", "offset"]]
    assert [f"0x{DESIGN.core_base:08X}", f"{DESIGN.ps_instance}/Data/SEG_{DESIGN.core_instance}_registers"] in \
        [call[2:] for call in offsets]
    ranges = [call[2] for call in calls if call[:2] == ["set_property", "range"]]
    assert f"{(1 << AXI_LITE_ADDRESS_BITS) // 1024}K" in ranges
    clocked = {call[1] for call in calls if call[0] == "get_bd_pins"}
    assert f"{DESIGN.core_instance}/aclk" in clocked and f"{DESIGN.core_instance}/aresetn" in clocked


@needs_tclsh
def test_build_tcl_runs_the_flow_and_copies_the_outputs(project, tmp_path):
    name = DESIGN.name
    fake_bit = project.out / "vivado" / f"{name}.runs" / "impl_1" / f"{name}_wrapper.bit"
    fake_hwh = project.out / "vivado" / f"{name}.gen" / "sources_1" / "bd" / name / "hw_handoff" / f"{name}.hwh"
    for path, text in ((fake_bit, "bitstream"), (fake_hwh, "<EDKSYSTEM/>")):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    calls = run_with_stubs(project.build_tcl, tmp_path)
    commands = [call[0] for call in calls]
    assert commands.index("create_project") < commands.index("launch_runs") < commands.index("wait_on_run")
    assert ["set_property", "ip_repo_paths", str(project.out / "ip"), "current_project"] in \
        [call[:2] + [call[2]] + [call[3]] for call in calls if call[:2] == ["set_property", "ip_repo_paths"]]
    assert any(call[0] == "create_project" and DESIGN.part in call for call in calls)
    assert project.bitstream.read_text() == "bitstream" and project.hwh.read_text() == "<EDKSYSTEM/>"


@needs_tclsh
def test_constraints_are_valid_tcl(project, tmp_path):
    calls = run_with_stubs(project.out / "constraints.xdc", tmp_path)
    assert ["set_property", "CFGBVS", "VCCO", "current_design"] in calls


def test_build_without_vivado_prints_the_command(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    args = _arguments(tmp_path / "out")
    assert build_main(args) == 2
    printed = capsys.readouterr().out
    assert "vivado is not on PATH" in printed
    assert f"vivado -mode batch -nojournal -log {tmp_path / 'out' / 'vivado.log'} -source " \
           f"{tmp_path / 'out' / 'build.tcl'}" in printed


def test_build_runs_vivado_when_present(tmp_path, capsys, monkeypatch):
    """A stand-in ``vivado`` on PATH proves the command line and the check of its outputs."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "vivado"
    fake.write_text("#!/bin/sh\necho \"$@\" > vivado-args.txt\ntouch spikestream.bit spikestream.hwh\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    out = tmp_path / "out"
    assert build_main(_arguments(out)) == 0
    assert "-mode batch" in (out / "vivado-args.txt").read_text()
    assert "built" in capsys.readouterr().out


def _arguments(out: Path):
    import argparse

    from spikestream.boards.build import add_arguments

    parser = argparse.ArgumentParser()
    add_arguments(parser, "build")
    return parser.parse_args(["--board", "pynq-z2", "--out", str(out), "--core", json.dumps(SMALL_CORE.to_dict())])


@pytest.mark.parametrize("arguments, message", [
    (["--jobs", "0"], "argument --jobs: expected a whole number >= 1, got 0"),
    (["--name", "a b"], "argument --name: expected letters, digits, '_' or '-', starting with a letter "
                        "(a Vivado project name), got 'a b'"),
    (["--name", "2x"], "argument --name: expected letters, digits"),
    (["--core", '{"lanes": 0}'], "argument --core: the JSON text: lanes = 0 is outside the allowed range [1, 64]"),
    (["--core", "nofile.json"], "argument --core: cannot read nofile.json: No such file or directory"),
    (["--network", "nonexist.spkn"], "argument --network: cannot read nonexist.spkn: No such file or directory"),
])
def test_build_refuses_bad_options(cli_refusal, capsys, tmp_path, arguments, message):
    error = cli_refusal(["build", "--board", "pynq-z2", "--out", str(tmp_path / "out"), *arguments])
    assert message in error and "Traceback" not in error
    assert not (tmp_path / "out").exists()


def test_build_refuses_files_that_are_not_what_the_option_expects(cli_refusal, capsys, tmp_path):
    text = tmp_path / "text.spkn"
    text.write_text("not a network")
    assert f"argument --network: {text} is truncated" in cli_refusal(["build", "--board", "pynq-z2",
                                                                           "--network", str(text)])
    assert f"argument --core: {text} is not valid JSON" in cli_refusal(["build", "--board", "pynq-z2",
                                                                             "--core", str(text)])


def test_build_takes_the_core_of_the_network_and_refuses_another_core(capsys, tmp_path):
    network_file, core_file, out = tmp_path / "net.spkn", tmp_path / "core.json", tmp_path / "out"
    save_network(network_file, random_network(np.random.default_rng(5), SMALL_CORE, RandomNetworkOptions()),
                 SMALL_CORE)
    other = json.dumps({**SMALL_CORE.to_dict(), "lanes": 2})
    assert cli_main(["build", "--board", "pynq-z2", "--out", str(out), "--network", str(network_file),
                     "--core", other]) == 2
    assert "(lanes: 2 != 4; --core's value first); the build uses the network file's CoreConfig" \
           in capsys.readouterr().err
    assert not out.exists()
    core_file.write_text(SMALL_CORE.to_json())  # the same core, from a file: accepted
    assert cli_main(["build", "--board", "pynq-z2", "--out", str(out), "--network", str(network_file),
                     "--core", str(core_file), "--no-vivado"]) == 0
    assert CoreConfig.from_dict(json.loads((out / "spikestream.core.json").read_text())) == SMALL_CORE


def test_vlnv_is_split_consistently():
    assert vlnv_parts() == dict(zip(("vendor", "library", "name", "version"), VLNV.split(":")))
