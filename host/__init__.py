"""spikestream.host: the driver, and the three backends it runs on unchanged.

* :mod:`~spikestream.host.driver`: :class:`SpikeCore` (load, run, learn, read back, save);
* :mod:`~spikestream.host.transport`: the register / packet protocol every backend implements;
* :mod:`~spikestream.host.board`: the PYNQ-Z2 (pynq ``DefaultIP`` driver, AXI DMA, ``allocate``);
* :mod:`~spikestream.host.simulation`: the Verilator RTL simulation through cocotbext-axi;
* :mod:`~spikestream.host.golden`: the core emulated at the packet level by the golden model.

Board-side modules (driver, transport, board, golden, regmap, demo) need numpy only (and
pynq on the board).
"""
