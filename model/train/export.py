"""Write trained networks as ``.spkn`` files, with the front end saved alongside.

A network file (:mod:`spikestream.model.fileformat`) holds the core configuration and
the integer network. The board must also encode speech exactly as training did, so
the front-end configuration, the class names and a training summary go to a sidecar
JSON next to it: ``NAME.spkn`` -> ``NAME.spkn.json``::

    {"frontend": {... FrontendConfig.to_dict() ...} or null,
     "classes": ["zero", "one", ...],
     "training": {...}}

The sidecar is numpy-free JSON, readable on the board.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..config import CoreConfig
from ..fileformat import load_network, save_network
from ..network import Network

__all__ = ["sidecar_path", "export_network", "load_sidecar", "load_exported"]


def sidecar_path(path: str | os.PathLike) -> Path:
    """The sidecar JSON of a network file: ``NAME.spkn`` -> ``NAME.spkn.json``."""
    return Path(f"{os.fspath(path)}.json")


def export_network(path: str | os.PathLike, network: Network, core: CoreConfig, frontend=None,
                   classes: list[str] | tuple[str, ...] | None = None, training: dict | None = None) -> Path:
    """Save ``network`` for ``core`` to ``path`` and its sidecar; return the sidecar path.

    ``frontend`` is a :class:`spikestream.model.audio.FrontendConfig` (or None for
    inputs that are already spikes); ``classes`` names the output neurons in order.
    """
    if classes is not None and len(classes) != network.population(network.output).size:
        raise ValueError(f"{len(classes)} class names for an output population of "
                         f"{network.population(network.output).size} neurons")
    save_network(path, network, core)
    sidecar = sidecar_path(path)
    document = {"frontend": None if frontend is None else frontend.to_dict(),
                "classes": None if classes is None else list(classes), "training": training or {}}
    temporary = sidecar.with_suffix(".tmp")
    temporary.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    os.replace(temporary, sidecar)
    return sidecar


def load_sidecar(path: str | os.PathLike) -> dict:
    """Read the sidecar of a network file (empty fields when there is none)."""
    sidecar = sidecar_path(path)
    if not sidecar.exists():
        return {"frontend": None, "classes": None, "training": {}}
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{sidecar} is not the JSON sidecar spikestream writes ({error})") from None
    if not isinstance(data, dict) or not isinstance(data.get("frontend"), (dict, type(None))):
        raise ValueError(f"{sidecar}: expected a JSON object whose 'frontend' is an object or null (the sidecar "
                         f"spikestream writes next to the network)")
    return data


def load_exported(path: str | os.PathLike):
    """Return ``(network, core, frontend or None, classes or None)`` of an exported file."""
    network, core = load_network(path)
    sidecar = load_sidecar(path)
    frontend = None
    if sidecar.get("frontend") is not None:
        from ..audio.config import FrontendConfig
        try:
            frontend = FrontendConfig.from_dict(sidecar["frontend"])
        except (TypeError, ValueError) as error:
            raise ValueError(f"{sidecar_path(path)}: its front end is not valid: {error}") from None
    return network, core, frontend, sidecar.get("classes")
