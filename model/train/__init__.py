"""Off-chip training (PyTorch) of networks the core runs exactly.

Torch is imported only here and below; the rest of ``spikestream.model`` is numpy only.

- :mod:`.quant`: integer-exact arithmetic with straight-through / surrogate gradients
- :mod:`.net`: :class:`~.net.SpikingNetwork`, a trainable mirror of a ``Network``
- :mod:`.layers`: architectures (feedforward, self-recurrent, skip, recurrent)
- :mod:`.trainer`: BPTT training loop, losses matching the core's decision, checkpoints
- :mod:`.prune`: magnitude-schedule pruning and gradient rewiring to a target connectivity
- :mod:`.search`: Optuna hyper-parameter search on a shared study storage
- :mod:`.export`: write ``.spkn`` network files (with the front-end sidecar)
- :mod:`.nir_io`: NIR graph import and export
- :mod:`.evaluate`: accuracy, confusion, activity and cycles (golden / RTL backends)
- :mod:`.demo`: the end-to-end demo (``spikestream demo``)
- :mod:`.data`: train / validation / test splits of audio sources or raster files
- :mod:`.reference`: a non-spiking reference classifier on the same rasters (what the input carries)
- :mod:`.synthetic`: small synthetic spike-pattern tasks (tests, smoke runs)
- :mod:`.choices`: option enumerations (torch-free, for the command line)
- :mod:`.commands`: ``spikestream train``, ``eval``, ``demo``
"""
