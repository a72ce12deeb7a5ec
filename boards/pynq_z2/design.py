"""The PYNQ-Z2 overlay, described once: what the IP, the block design and the ``.hwh`` say.

:class:`OverlayDesign` holds the core configuration and the few board choices (instance
names, addresses, clock). Every build artefact is a view of it and of the RTL's own
declarations (the top level's ports, :data:`spikestream.rtl.registers.REGISTERS`):

* :func:`component_xml`: the IP-XACT ``component.xml`` of the packaged core
  (VLNV :data:`spikestream.host.board.VLNV`): ports, bus interfaces (AXI4-Lite
  subordinate ``s_axi`` with the register map as its address block, AXI4-Stream
  ``s_axis`` / ``m_axis``), clock and reset associations, the CoreConfig as IP parameters;
* :func:`hwh_xml`: a hardware handoff as Vivado writes for the block design, for
  simulation and for testing the board driver's metadata path without Vivado;
* :mod:`spikestream.boards.pynq_z2.tcl`: the block design, constraints and build scripts.
"""

from __future__ import annotations

import functools
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass

from spikestream.host.board import VLNV, core_parameters
from spikestream.model.config import WORD_BITS, CoreConfig

__all__ = ["OverlayDesign", "Port", "core_ports", "bus_interfaces", "component_xml", "hwh_xml", "vlnv_parts",
           "dma_parameters"]

SPIRIT = "http://www.spiritconsortium.org/XMLSchema/SPIRIT/1685-2009"
XILINX = "http://www.xilinx.com"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
#: The core's stream beats and registers are one protocol word wide (the DMA's streams follow them).
WORD_WIDTH = str(WORD_BITS)
WORD_BYTES = str(WORD_BITS // 8)
#: Widths the Xilinx parts fix, not the protocol: the AXI DMA's register interface (AXI4-Lite, 32 bits
#: in the IP) and its memory-mapped side to HP0 (a choice of the IP's; 32 keeps it simple, no DRE).
DMA_LITE_DATA_WIDTH = "32"
DMA_MEMORY_DATA_WIDTH = "32"
#: IP-XACT / HWH names of the register access kinds (``Access`` of :mod:`spikestream.rtl.csr`).
ACCESS_NAMES = {"ro": "read-only", "rw": "read-write", "w1c": "read-write"}


def vlnv_parts(vlnv: str = VLNV) -> dict[str, str]:
    """Split ``vendor:library:name:version``."""
    vendor, library, name, version = vlnv.split(":")
    return {"vendor": vendor, "library": library, "name": name, "version": version}


@dataclass(frozen=True)
class OverlayDesign:
    """The board-level choices of the spikestream overlay on a PYNQ-Z2.

    Parameters
    ----------
    core : CoreConfig
        The core to build (also written next to the bitstream as JSON).
    name : str
        Block design / overlay name: the outputs are ``<name>.bit`` and ``<name>.hwh``.
    part, board_part : str
        The xc7z020 on the PYNQ-Z2 and the board files Vivado may have for it.
    core_base, dma_base : int
        Addresses of the core's registers and the DMA's on ``M_AXI_GP0``.
    dma_length_bits : int
        Width of the DMA length register (``c_sg_length_width``): largest transfer
        ``2**bits - 1`` bytes.
    """

    core: CoreConfig = CoreConfig()
    name: str = "spikestream"
    part: str = "xc7z020clg400-1"
    board_part: str = "tul.com.tw:pynq-z2:part0:1.0"
    core_instance: str = "spikestream_core_0"
    dma_instance: str = "axi_dma_0"
    ps_instance: str = "processing_system7_0"
    core_base: int = 0x43C0_0000
    dma_base: int = 0x4040_0000
    dma_length_bits: int = 26

    @property
    def clock_mhz(self) -> float:
        return self.core.clock_hz / 1e6

    @property
    def register_window(self) -> int:
        """Bytes of the core's AXI4-Lite window (its address width)."""
        from spikestream.rtl.top import AXI_LITE_ADDRESS_BITS

        return 1 << AXI_LITE_ADDRESS_BITS

    @property
    def dma_window(self) -> int:
        """Bytes of the AXI DMA's register window (64 KiB, fixed by the Xilinx IP)."""
        return 0x10000


@dataclass(frozen=True)
class Port:
    """One port of the top level: name, direction ("in" / "out"), width in bits."""

    name: str
    direction: str
    width: int


@functools.lru_cache(maxsize=8)
def core_ports(core: CoreConfig) -> tuple[Port, ...]:
    """The ports of ``spikestream_core`` for ``core``, read from the Amaranth top level's signature."""
    from amaranth.hdl import Shape
    from amaranth.lib.wiring import Flow

    from spikestream.rtl.top import SpikestreamCore

    top = SpikestreamCore(core)
    top._MustUse__silence = True  # only its signature is read; amaranth would warn it was never elaborated
    return tuple(Port(name, "in" if member.flow is Flow.In else "out", Shape.cast(member.shape).width)
                 for name, member in top.signature.members.items())


def bus_interfaces(core: CoreConfig) -> dict[str, dict]:
    """Bus interfaces: name -> ``{"type", "mode", "ports": {LOGICAL: physical}}`` (from the port names)."""
    interfaces = {
        "s_axi": {"type": "aximm", "mode": "slave", "ports": {}},
        "s_axis": {"type": "axis", "mode": "slave", "ports": {}},
        "m_axis": {"type": "axis", "mode": "master", "ports": {}},
    }
    for port in core_ports(core):
        prefix, _, signal = port.name.rpartition("_")
        if prefix in interfaces:
            interfaces[prefix]["ports"][signal.upper()] = port.name
    return interfaces


# ---- IP-XACT component.xml ------------------------------------------------------------------

def _sub(parent, tag: str, text: str | None = None, namespace: str = SPIRIT, **attributes):
    element = ElementTree.SubElement(parent, f"{{{namespace}}}{tag}",
                                     {f"{{{SPIRIT}}}{k}": str(v) for k, v in attributes.items()})
    if text is not None:
        element.text = str(text)
    return element


def _bus_type(parent, tag: str, name: str, version: str = "1.0") -> None:
    _sub(parent, tag, vendor="xilinx.com", library="interface", name=name, version=version)


def _parameter(parent, name: str, value: str, resolve: str | None = None) -> None:
    parameter = _sub(parent, "parameter")
    _sub(parameter, "name", name)
    attributes = {"id": f"BUSIFPARAM_VALUE.{name.upper()}"} if resolve is None else {
        "id": f"PARAM_VALUE.{name.upper()}", "resolve": resolve}
    _sub(parameter, "value", value, **attributes)


def component_xml(design: OverlayDesign, verilog_file: str = "hdl/spikestream_core.v") -> str:
    """Return the IP-XACT (1685-2009) description of the packaged core."""
    from spikestream.rtl.registers import REGISTERS, reset_values
    from spikestream.rtl.top import TOPLEVEL

    ElementTree.register_namespace("spirit", SPIRIT)
    ElementTree.register_namespace("xilinx", XILINX)
    ElementTree.register_namespace("xsi", XSI)
    core = design.core
    resets = reset_values(core)
    root = ElementTree.Element(f"{{{SPIRIT}}}component")
    for key, value in vlnv_parts().items():
        _sub(root, key, value)

    interfaces = _sub(root, "busInterfaces")
    for name, interface in bus_interfaces(core).items():
        bus = _sub(interfaces, "busInterface")
        _sub(bus, "name", name)
        _bus_type(bus, "busType", interface["type"])
        _bus_type(bus, "abstractionType", interface["type"] + "_rtl")
        mode = _sub(bus, interface["mode"])
        if interface["type"] == "aximm":
            _sub(mode, "memoryMapRef", memoryMapRef=name)
        port_maps = _sub(bus, "portMaps")
        for logical, physical in interface["ports"].items():
            port_map = _sub(port_maps, "portMap")
            _sub(_sub(port_map, "logicalPort"), "name", logical)
            _sub(_sub(port_map, "physicalPort"), "name", physical)
        if interface["type"] == "axis":
            parameters = _sub(bus, "parameters")
            _parameter(parameters, "TDATA_NUM_BYTES", WORD_BYTES)
            _parameter(parameters, "HAS_TLAST", "1")
    for name, kind, logical, parameters in (
            ("aclk", "clock", "CLK", {"ASSOCIATED_BUSIF": "s_axi:s_axis:m_axis", "ASSOCIATED_RESET": "aresetn",
                                      "FREQ_HZ": str(core.clock_hz)}),
            ("aresetn", "reset", "RST", {"POLARITY": "ACTIVE_LOW"})):
        bus = _sub(interfaces, "busInterface")
        _sub(bus, "name", name)
        _bus_type(bus, "busType", kind)
        _bus_type(bus, "abstractionType", kind + "_rtl")
        _sub(bus, "slave")
        port_map = _sub(_sub(bus, "portMaps"), "portMap")
        _sub(_sub(port_map, "logicalPort"), "name", logical)
        _sub(_sub(port_map, "physicalPort"), "name", name)
        bus_parameters = _sub(bus, "parameters")
        for key, value in parameters.items():
            _parameter(bus_parameters, key, value)

    memory_map = _sub(_sub(root, "memoryMaps"), "memoryMap")
    _sub(memory_map, "name", "s_axi")
    block = _sub(memory_map, "addressBlock")
    _sub(block, "name", "registers")
    _sub(block, "baseAddress", "0")
    _sub(block, "range", str(design.register_window))
    _sub(block, "width", WORD_WIDTH)
    _sub(block, "usage", "register")
    for register in REGISTERS:
        element = _sub(block, "register")
        _sub(element, "name", register.name)
        _sub(element, "description", register.doc)
        _sub(element, "addressOffset", hex(REGISTERS.offset(register.name)))
        _sub(element, "size", WORD_WIDTH)
        _sub(element, "access", ACCESS_NAMES[register.access.value])
        reset = _sub(element, "reset")
        _sub(reset, "value", hex(resets[register.name]))

    model = _sub(root, "model")
    views = _sub(model, "views")
    for view_name, env in (("xilinx_anylanguagesynthesis", ":vivado.xilinx.com:synthesis"),
                           ("xilinx_anylanguagebehavioralsimulation", ":vivado.xilinx.com:simulation")):
        view = _sub(views, "view")
        _sub(view, "name", view_name)
        _sub(view, "envIdentifier", env)
        _sub(view, "language", "Verilog")
        _sub(view, "modelName", TOPLEVEL)
        _sub(_sub(view, "fileSetRef"), "localName", "verilog_sources")
    ports = _sub(model, "ports")
    for port in core_ports(core):
        element = _sub(ports, "port")
        _sub(element, "name", port.name)
        wire = _sub(element, "wire")
        _sub(wire, "direction", port.direction)
        if port.width > 1:
            vector = _sub(wire, "vector")
            _sub(vector, "left", str(port.width - 1), format="long")
            _sub(vector, "right", "0", format="long")

    file_set = _sub(_sub(root, "fileSets"), "fileSet")
    _sub(file_set, "name", "verilog_sources")
    source = _sub(file_set, "file")
    _sub(source, "name", verilog_file)
    _sub(source, "fileType", "verilogSource")

    _sub(root, "description", "spikestream spiking neural network core (AXI4-Lite registers, AXI4-Stream packets)")
    parameters = _sub(root, "parameters")
    _parameter(parameters, "Component_Name", f"{TOPLEVEL}_v1_0", resolve="user")
    for key, value in core_parameters(core).items():
        _parameter(parameters, key, value, resolve="user")

    extensions = _sub(_sub(root, "vendorExtensions"), "coreExtensions", namespace=XILINX)
    families = ElementTree.SubElement(extensions, f"{{{XILINX}}}supportedFamilies")
    family = ElementTree.SubElement(families, f"{{{XILINX}}}family", {f"{{{XILINX}}}lifeCycle": "Production"})
    family.text = "zynq"
    taxonomies = ElementTree.SubElement(extensions, f"{{{XILINX}}}taxonomies")
    ElementTree.SubElement(taxonomies, f"{{{XILINX}}}taxonomy").text = "/UserIP"
    ElementTree.SubElement(extensions, f"{{{XILINX}}}displayName").text = "spikestream core"
    ElementTree.SubElement(extensions, f"{{{XILINX}}}coreRevision").text = "1"
    ElementTree.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(root, encoding="unicode") + "\n"


# ---- hardware handoff (.hwh) ----------------------------------------------------------------

def _hwh_module(parent, instance: str, vlnv: str, modtype: str, parameters: dict[str, str]):
    vendor, library, name, version = vlnv.split(":")
    module = ElementTree.SubElement(parent, "MODULE", {
        "FULLNAME": f"/{instance}", "HWVERSION": version, "INSTANCE": instance, "IPTYPE": "PERIPHERAL",
        "IS_ENABLE": "1", "MODCLASS": "PERIPHERAL", "MODTYPE": modtype, "VLNV": vlnv})
    ElementTree.SubElement(module, "DOCUMENTS")
    element = ElementTree.SubElement(module, "PARAMETERS")
    for key, value in parameters.items():
        ElementTree.SubElement(element, "PARAMETER", {"NAME": key, "VALUE": value})
    return module


def _hwh_ports(module, ports: list[Port], connections: dict[str, tuple[str, str]], clock: str, reset: str) -> None:
    element = ElementTree.SubElement(module, "PORTS")
    for port in ports:
        attributes = {"DIR": "I" if port.direction == "in" else "O", "NAME": port.name,
                      "SIGIS": "clk" if port.name == clock else "rst" if port.name == reset else "undef"}
        if port.width > 1:
            attributes.update(LEFT=str(port.width - 1), RIGHT="0")
        port_element = ElementTree.SubElement(element, "PORT", attributes)
        if port.name in connections:
            instance, other = connections[port.name]
            ElementTree.SubElement(ElementTree.SubElement(port_element, "CONNECTIONS"), "CONNECTION",
                                   {"INSTANCE": instance, "PORT": other})


def _hwh_bus(parent, name: str, kind: str, mode: str, ports: dict[str, str], parameters: dict[str, str],
             busname: str) -> None:
    bus = ElementTree.SubElement(parent, "BUSINTERFACE", {
        "BUSNAME": busname, "NAME": name, "TYPE": mode.upper(), "VLNV": f"xilinx.com:interface:{kind}:1.0"})
    for key, value in parameters.items():
        ElementTree.SubElement(bus, "PARAMETER", {"NAME": key, "VALUE": value})
    maps = ElementTree.SubElement(bus, "PORTMAPS")
    for logical, physical in ports.items():
        ElementTree.SubElement(maps, "PORTMAP", {"LOGICAL": logical, "PHYSICAL": physical})


def _lite_ports(prefix: str, master: bool) -> dict[str, Port]:
    """The AXI4-Lite ports of a PS or DMA register interface, by logical name."""
    driven_by_master = {"AWADDR": 32, "AWVALID": 1, "WDATA": 32, "WSTRB": 4, "WVALID": 1, "BREADY": 1, "ARADDR": 32,
                        "ARVALID": 1, "RREADY": 1}
    driven_by_slave = {"AWREADY": 1, "WREADY": 1, "BRESP": 2, "BVALID": 1, "ARREADY": 1, "RDATA": 32, "RRESP": 2,
                       "RVALID": 1}
    ports = {}
    for signals, outgoing in ((driven_by_master, master), (driven_by_slave, not master)):
        for logical, width in signals.items():
            name = prefix + (logical if prefix.isupper() else logical.lower())
            ports[logical] = Port(name, "out" if outgoing else "in", width)
    return ports


def _dma_ports() -> dict[str, list[Port]]:
    """The AXI DMA ports the handoff lists (stream sides and register interface)."""
    stream = {"M_AXIS_MM2S": ("out", "m_axis_mm2s"), "S_AXIS_S2MM": ("in", "s_axis_s2mm")}
    ports = {}
    for bus, (direction, prefix) in stream.items():
        back = "in" if direction == "out" else "out"
        ports[bus] = [Port(f"{prefix}_tdata", direction, WORD_BITS), Port(f"{prefix}_tvalid", direction, 1),
                      Port(f"{prefix}_tready", back, 1), Port(f"{prefix}_tlast", direction, 1)]
    return ports


def dma_parameters(design: OverlayDesign) -> dict[str, str]:
    """The AXI DMA configuration of the block design (also read by pynq's DMA driver)."""
    return {"c_include_sg": "0", "c_sg_length_width": str(design.dma_length_bits), "c_include_mm2s": "1",
            "c_include_s2mm": "1", "c_m_axi_mm2s_data_width": DMA_MEMORY_DATA_WIDTH,
            "c_m_axis_mm2s_tdata_width": WORD_WIDTH, "c_m_axi_s2mm_data_width": DMA_MEMORY_DATA_WIDTH,
            "c_s_axis_s2mm_tdata_width": WORD_WIDTH, "c_include_mm2s_dre": "0",
            "c_include_s2mm_dre": "0", "c_micro_dma": "0", "c_mm2s_burst_size": "16", "c_s2mm_burst_size": "16"}


#: The PYNQ-Z2 preset runs the PS's IO PLL at 1 GHz; the fabric clocks divide it in two stages.
IO_PLL_MHZ = 1000


def fclk_divisors(mhz: float) -> tuple[int, int]:
    """Two divisors (1 .. 63 each) of the IO PLL that give exactly ``mhz``, the smallest first stage."""
    for first in range(1, 64):
        for second in range(1, 64):
            if abs(IO_PLL_MHZ / (first * second) - mhz) < 1e-9:
                return first, second
    raise ValueError(f"{mhz} MHz is not the {IO_PLL_MHZ} MHz IO PLL divided by two integers of 1 .. 63")


def ps_clock_parameters(design: OverlayDesign) -> dict[str, str]:
    """The PS7 fabric clock parameters of the handoff: FCLK0 at the core's clock, FCLK1..3 off."""
    parameters = {}
    for clock in range(4):
        enabled = clock == 0
        divisors = fclk_divisors(design.clock_mhz) if enabled else (1, 1)
        parameters.update({
            f"PCW_FPGA_FCLK{clock}_ENABLE": "1" if enabled else "0",
            f"PCW_FPGA{clock}_PERIPHERAL_FREQMHZ": f"{design.clock_mhz:g}" if enabled else "0",
            f"PCW_FCLK{clock}_PERIPHERAL_DIVISOR0": str(divisors[0]),
            f"PCW_FCLK{clock}_PERIPHERAL_DIVISOR1": str(divisors[1]),
            f"PCW_FCLK{clock}_PERIPHERAL_CLKSRC": "IO PLL",
        })
    return parameters


def hwh_xml(design: OverlayDesign) -> str:
    """Return a ``.hwh`` for the overlay: PS, AXI DMA and core, with addresses, parameters, registers."""
    from spikestream.rtl.registers import REGISTERS, reset_values

    core = design.core
    resets = reset_values(core)
    root = ElementTree.Element("EDKSYSTEM", {"EDWVERSION": "1.2", "TIMESTAMP": "generated by spikestream",
                                             "VIVADOVERSION": "2022.1"})
    ElementTree.SubElement(root, "SYSTEMINFO", {"ARCH": "zynq", "DEVICE": "7z020", "NAME": design.name,
                                                "PACKAGE": "clg400", "SPEEDGRADE": "-1"})
    ElementTree.SubElement(root, "EXTERNALPORTS")
    ElementTree.SubElement(root, "EXTERNALINTERFACES")
    modules = ElementTree.SubElement(root, "MODULES")
    window = design.register_window
    clock = {"FREQ_HZ": str(core.clock_hz), "CLK_DOMAIN": f"{design.name}_{design.ps_instance}_0_FCLK_CLK0"}

    # The processing system: its memory map is where pynq finds every peripheral's address.
    ps = _hwh_module(modules, design.ps_instance, "xilinx.com:ip:processing_system7:5.5", "processing_system7",
                     {**ps_clock_parameters(design), "PCW_USE_S_AXI_HP0": "1", "PCW_USE_M_AXI_GP0": "1"})
    ps.set("IS_PL", "FALSE")
    ps.attrib.pop("MODCLASS")
    memory_map = ElementTree.SubElement(ps, "MEMORYMAP")
    for instance, base, size, interface, basename, block in (
            (design.dma_instance, design.dma_base, design.dma_window, "S_AXI_LITE", "C_BASEADDR", "Reg"),
            (design.core_instance, design.core_base, window, "s_axi", "C_S_AXI_BASEADDR", "registers")):
        ElementTree.SubElement(memory_map, "MEMRANGE", {
            "ADDRESSBLOCK": block, "BASENAME": basename, "BASEVALUE": f"0x{base:08X}",
            "HIGHNAME": basename.replace("BASE", "HIGH"), "HIGHVALUE": f"0x{base + size - 1:08X}",
            "INSTANCE": instance, "IS_DATA": "TRUE", "IS_INSTRUCTION": "TRUE", "MASTERBUSINTERFACE": "M_AXI_GP0",
            "MEMTYPE": "REGISTER", "SLAVEBUSINTERFACE": interface})
    gp0 = _lite_ports("M_AXI_GP0_", master=True)
    _hwh_ports(ps, [Port("FCLK_CLK0", "out", 1), *gp0.values()], {}, "FCLK_CLK0", "")
    _hwh_bus(ElementTree.SubElement(ps, "BUSINTERFACES"), "M_AXI_GP0", "aximm", "master",
             {logical: port.name for logical, port in gp0.items()}, {"PROTOCOL": "AXI3", **clock},
             f"{design.ps_instance}_M_AXI_GP0")

    # The AXI DMA (simple mode, both directions): pynq's DMA driver reads these parameters.
    dma = _hwh_module(modules, design.dma_instance, "xilinx.com:ip:axi_dma:7.1", "axi_dma",
                      {**dma_parameters(design), "C_BASEADDR": f"0x{design.dma_base:08X}",
                       "C_HIGHADDR": f"0x{design.dma_base + design.dma_window - 1:08X}"})
    dma_ports = _dma_ports()
    to_core = {"m_axis_mm2s": "s_axis", "s_axis_s2mm": "m_axis"}
    connections = {port.name: (design.core_instance, to_core[port.name.rsplit("_", 1)[0]] + "_"
                               + port.name.rsplit("_", 1)[1]) for ports in dma_ports.values() for port in ports}
    lite = _lite_ports("s_axi_lite_", master=False)
    _hwh_ports(dma, [Port("s_axi_lite_aclk", "in", 1), Port("axi_resetn", "in", 1), *lite.values()]
               + [p for ports in dma_ports.values() for p in ports], connections, "s_axi_lite_aclk", "axi_resetn")
    buses = ElementTree.SubElement(dma, "BUSINTERFACES")
    _hwh_bus(buses, "S_AXI_LITE", "aximm", "slave", {logical: port.name for logical, port in lite.items()},
             {"PROTOCOL": "AXI4LITE", "DATA_WIDTH": DMA_LITE_DATA_WIDTH, **clock}, "ps7_axi_periph_M00_AXI")
    stream_parameters = {"TDATA_NUM_BYTES": WORD_BYTES, "HAS_TLAST": "1", "HAS_TREADY": "1", **clock}
    for bus, ports in dma_ports.items():
        _hwh_bus(buses, bus, "axis", "master" if bus.startswith("M") else "slave",
                 {p.name.rsplit("_", 1)[1].upper(): p.name for p in ports}, stream_parameters,
                 f"{design.dma_instance}_{bus}" if bus.startswith("M") else f"{design.core_instance}_m_axis")

    # The core: its parameters carry the CoreConfig, its address block the register map.
    module = _hwh_module(modules, design.core_instance, VLNV, vlnv_parts()["name"], {
        **core_parameters(core), "C_S_AXI_BASEADDR": f"0x{design.core_base:08X}",
        "C_S_AXI_HIGHADDR": f"0x{design.core_base + window - 1:08X}", "EDK_IPTYPE": "PERIPHERAL"})
    blocks = ElementTree.Element("ADDRESSBLOCKS")
    module.insert(1, blocks)
    block = ElementTree.SubElement(blocks, "ADDRESSBLOCK", {"ACCESS": "read-write", "INTERFACE": "s_axi",
                                                            "NAME": "registers", "RANGE": str(window),
                                                            "USAGE": "register"})
    registers = ElementTree.SubElement(block, "REGISTERS")
    for register in REGISTERS:
        element = ElementTree.SubElement(registers, "REGISTER", {"NAME": register.name})
        for key, value in (("DESCRIPTION", register.doc), ("ADDRESS_OFFSET", hex(REGISTERS.offset(register.name))),
                           ("SIZE", WORD_WIDTH), ("ACCESS", ACCESS_NAMES[register.access.value]), ("IS_ENABLED", "true"),
                           ("RESET_VALUE", hex(resets[register.name]))):
            ElementTree.SubElement(element, "PROPERTY", {"NAME": key, "VALUE": value})
        ElementTree.SubElement(element, "FIELDS")
    back = {"s_axis": "m_axis_mm2s", "m_axis": "s_axis_s2mm"}
    core_port_list = list(core_ports(core))
    connections = {port.name: (design.dma_instance, back[port.name.rsplit("_", 1)[0]] + "_"
                               + port.name.rsplit("_", 1)[1])
                   for port in core_port_list if port.name.rsplit("_", 1)[0] in back}
    _hwh_ports(module, core_port_list, connections, "aclk", "aresetn")
    buses = ElementTree.SubElement(module, "BUSINTERFACES")
    for name, interface in bus_interfaces(core).items():
        if interface["type"] == "aximm":
            parameters = {"DATA_WIDTH": WORD_WIDTH, "PROTOCOL": "AXI4LITE", "ADDR_WIDTH": str(window.bit_length() - 1),
                          **clock}
            busname = f"ps7_axi_periph_{name}"
        else:
            parameters = stream_parameters
            busname = f"{design.dma_instance}_M_AXIS_MM2S" if interface["mode"] == "slave" else \
                f"{design.core_instance}_m_axis"
        _hwh_bus(buses, name, interface["type"], interface["mode"], interface["ports"], parameters, busname)
    ElementTree.indent(root)
    return '<?xml version="1.0" encoding="UTF-8" standalone="no" ?>\n' + ElementTree.tostring(root, "unicode") + "\n"

