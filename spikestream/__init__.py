"""spikestream: a spiking neural network core for PYNQ-Z2, its golden model and tools.

Subpackages: ``spikestream.model`` (the one description, golden model, training),
``spikestream.rtl`` (Amaranth core), ``spikestream.sim`` (cocotb + Verilator),
``spikestream.host`` (PYNQ driver), ``spikestream.boards`` (Vivado build).
"""

__version__ = "0.1.0"
