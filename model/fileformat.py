"""The on-disk network format (``.spkn``): what training exports and the driver loads.

Layout (all integers little-endian)::

    magic      8 bytes  b"SPKNET\\r\\n"
    version    u32      FORMAT_VERSION
    length     u64      payload length in bytes
    sha256     32 bytes of the payload
    payload    an uncompressed .npz archive: "meta" (UTF-8 JSON as uint8), and per
               group g: "g{g}_weights" (int16), "g{g}_mask" (bool); per population p and
               parameter: "p{p}_{parameter}" (int64); optionally "learning_prune_count"
               (int64, one per synapse in canonical order)

The JSON holds the core configuration, the network's structure and rules, and with a
learning state its ``lfsr``. The learning state (pruning counters and LFSR, what a chip
that learned carries besides its weights and connectivity) lets learning go on exactly
where it stopped; readers that do not know it ignore it. A file whose magic, version,
length or checksum is wrong is refused with a message that says which. Only numpy is
needed (this runs on the board).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import struct
import zipfile
import zlib
from typing import NamedTuple

import numpy as np

from .config import ConfigError, CoreConfig
from .golden import check_lfsr
from .network import (Decision, LearningRule, Network, Population, PruningRule, SynapseGroup)

__all__ = ["FORMAT_VERSION", "MAGIC", "NetworkFileError", "LearningState", "save_network", "load_network",
           "load_learning_state", "load_network_with_state", "dumps", "loads", "loads_learning_state"]

MAGIC = b"SPKNET\r\n"
FORMAT_VERSION = 1
_HEADER = struct.Struct("<8sIQ32s")


class NetworkFileError(ValueError):
    """A network file is corrupt, truncated, or of an unsupported version."""


def _json_scalar(value):
    """numpy scalars a Network accepts (np.int64 sizes, np.bool_ flags) written as the JSON numbers they are."""
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.floating):
        return float(value)
    raise TypeError(f"{type(value).__name__} {value!r} cannot be written to a network file")


def _rule_to_json(rule) -> dict | None:
    if rule is None:
        return None
    return {k: (v.value if hasattr(v, "value") else v) for k, v in dataclasses.asdict(rule).items()}


class LearningState(NamedTuple):
    """What learning carries besides weights and connectivity: per synapse (canonical order) its pruning
    counter, and the stochastic-rounding LFSR."""

    prune_count: np.ndarray
    lfsr: int


def _checked_learning_state(state, network: Network, core: CoreConfig) -> LearningState:
    count = network.synapses().count
    prune_count = np.asarray(state.prune_count)
    if prune_count.shape != (count,) or not np.issubdtype(prune_count.dtype, np.integer):
        raise ValueError(f"learning state: prune_count has shape {prune_count.shape} and dtype {prune_count.dtype}, "
                         f"expected ({count},) integers, one per synapse of the network in canonical order")
    if prune_count.size and not (0 <= prune_count.min() and prune_count.max() <= core.prune_patience_max):
        raise ValueError(f"learning state: pruning counters span {prune_count.min()} .. {prune_count.max()}, "
                         f"expected 0 .. {core.prune_patience_max}")
    return LearningState(prune_count.astype(np.int64), check_lfsr(state.lfsr, "learning state: lfsr"))


def dumps(network: Network, core: CoreConfig, learning_state: LearningState | None = None) -> bytes:
    """Serialise ``network`` and the ``core`` it targets to bytes (with a ``learning_state``, that too)."""
    network.check_fits(core)
    arrays = {}
    populations = []
    for p_index, p in enumerate(network.populations):
        populations.append({"name": p.name, "size": p.size, "reset": p.reset.value, "single_spike": p.single_spike})
        for parameter in Population.PARAMETERS:
            arrays[f"p{p_index}_{parameter}"] = getattr(p, parameter).astype(np.int64)
    groups = []
    for g_index, g in enumerate(network.groups):
        groups.append({"source": g.source, "target": g.target, "exponent": g.exponent,
                       "learning": _rule_to_json(g.learning), "pruning": _rule_to_json(g.pruning)})
        arrays[f"g{g_index}_weights"] = g.weights.astype(np.int16)
        arrays[f"g{g_index}_mask"] = g.mask
    meta = {
        "core": core.to_dict(),
        "network": {"n_inputs": network.n_inputs, "timesteps": network.timesteps, "output": network.output,
                    "decision": _rule_to_json(network.decision), "populations": populations, "groups": groups},
    }
    if learning_state is not None:
        learning_state = _checked_learning_state(learning_state, network, core)
        arrays["learning_prune_count"] = learning_state.prune_count
        meta["learning_state"] = {"lfsr": learning_state.lfsr}
    arrays["meta"] = np.frombuffer(json.dumps(meta, sort_keys=True, default=_json_scalar).encode(), np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    payload = buffer.getvalue()
    return _HEADER.pack(MAGIC, FORMAT_VERSION, len(payload), hashlib.sha256(payload).digest()) + payload


def loads(data: bytes, source: str = "network data") -> tuple[Network, CoreConfig]:
    """Parse bytes written by :func:`dumps`; refuse anything corrupt or unsupported."""
    network, core, _ = _loads(data, source)
    return network, core


def loads_learning_state(data: bytes, source: str = "network data") -> LearningState | None:
    """The learning state in bytes written by :func:`dumps` (None if they hold none)."""
    return _loads(data, source)[2]


def _loads(data: bytes, source: str) -> tuple[Network, CoreConfig, LearningState | None]:
    if len(data) < _HEADER.size:
        raise NetworkFileError(f"{source} is truncated: {len(data)} bytes, the header alone is {_HEADER.size}")
    magic, version, length, digest = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise NetworkFileError(f"{source} is not a spikestream network file (magic {magic!r}, expected {MAGIC!r})")
    if version > FORMAT_VERSION:
        raise NetworkFileError(f"{source} has format version {version}, newer than this spikestream reads "
                               f"({FORMAT_VERSION}); upgrade spikestream")
    if version < 1:
        raise NetworkFileError(f"{source} has format version {version}, expected 1 .. {FORMAT_VERSION}")
    payload = data[_HEADER.size:]
    if len(payload) != length:
        raise NetworkFileError(f"{source} is truncated or padded: payload of {len(payload)} bytes, header says {length}")
    if hashlib.sha256(payload).digest() != digest:
        raise NetworkFileError(f"{source} is corrupt: its SHA-256 checksum does not match the payload")
    try:
        return _parse_payload(payload)
    except ConfigError as error:
        raise NetworkFileError(f"{source} holds an invalid network: {error}") from error
    except (KeyError, TypeError, ValueError, zipfile.BadZipFile, zlib.error, RecursionError) as error:
        # The checksum matched, so the writer itself produced this: say so, with the cause.
        raise NetworkFileError(f"{source} has a valid checksum but a malformed payload "
                               f"({type(error).__name__}: {error})") from error


def _member_kind(name: str) -> str:
    """The numpy dtype kind the writer gives member ``name``: nothing else is converted and read."""
    return "u" if name == "meta" else "b" if name.endswith("_mask") else "i"


def _read_members(payload: bytes) -> dict[str, np.ndarray]:
    """The arrays of the payload's archive, each checked against its declared size and kind before it is read."""
    arrays = {}
    with zipfile.ZipFile(io.BytesIO(payload)) as archive:
        for info in archive.infolist():
            if not info.filename.endswith(".npy"):
                raise ValueError(f"member {info.filename!r} is not a .npy array")
            name = info.filename[:-len(".npy")]
            with archive.open(info) as member:
                version = np.lib.format.read_magic(member)
                read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                               else np.lib.format.read_array_header_2_0)
                shape, _, dtype = read_header(member)
                if dtype.hasobject or dtype.kind != _member_kind(name):
                    raise ValueError(f"member {name!r} holds {dtype}, expected numpy kind {_member_kind(name)!r} "
                                     f"(the writer's dtype)")
                declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
                if declared > info.file_size:
                    raise ValueError(f"member {name!r} declares shape {shape} ({declared} bytes) in "
                                     f"{info.file_size} bytes")
            with archive.open(info) as member:
                arrays[name] = np.lib.format.read_array(member, allow_pickle=False)
    return arrays


def _expected_members(meta: dict) -> set[str]:
    network = meta["network"]
    names = {"meta", "learning_prune_count"} if "learning_state" in meta else {"meta"}
    names |= {f"p{p}_{name}" for p in range(len(network["populations"])) for name in Population.PARAMETERS}
    names |= {f"g{g}_{part}" for g in range(len(network["groups"])) for part in ("weights", "mask")}
    return names


def _parse_payload(payload: bytes) -> tuple[Network, CoreConfig, LearningState | None]:
    """Rebuild the network, core and learning state from a payload whose checksum already matched."""
    arrays = _read_members(payload)
    if "meta" not in arrays:
        raise ValueError("the archive has no 'meta' member")
    meta = json.loads(arrays.pop("meta").tobytes().decode())
    if not isinstance(meta, dict):
        raise ValueError(f"meta is a JSON {type(meta).__name__}, expected an object")
    expected = _expected_members(meta) - {"meta"}
    if set(arrays) != expected:
        raise ValueError(f"the archive's members {sorted(set(arrays) - expected)} are unexpected and "
                         f"{sorted(expected - set(arrays))} are missing")
    core = CoreConfig.from_dict(meta["core"])
    description = meta["network"]
    populations = []
    for p_index, p in enumerate(description["populations"]):
        parameters = {name: arrays[f"p{p_index}_{name}"] for name in Population.PARAMETERS}
        populations.append(Population(p["name"], p["size"], reset=p["reset"], single_spike=p["single_spike"],
                                      **parameters))
    groups = []
    for g_index, g in enumerate(description["groups"]):
        groups.append(SynapseGroup(
            g["source"], g["target"], arrays[f"g{g_index}_weights"], arrays[f"g{g_index}_mask"],
            g["exponent"], LearningRule(**g["learning"]) if g["learning"] else None,
            PruningRule(**g["pruning"]) if g["pruning"] else None))
    network = Network(description["n_inputs"], populations, groups, description["timesteps"], description["output"],
                      Decision(**description["decision"]))
    network.check_fits(core)
    state = None
    if "learning_state" in meta:
        state = _checked_learning_state(LearningState(arrays["learning_prune_count"], meta["learning_state"]["lfsr"]),
                                        network, core)
    return network, core, state


def save_network(path: str | os.PathLike, network: Network, core: CoreConfig,
                 learning_state: LearningState | None = None) -> None:
    """Write ``network`` (and the core it targets, and a ``learning_state``) to ``path`` atomically."""
    data = dumps(network, core, learning_state)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"cannot write {os.fspath(path)}: the folder {folder} does not exist")
    temporary = f"{os.fspath(path)}.tmp"
    with open(temporary, "wb") as handle:
        handle.write(data)
    os.replace(temporary, path)


def load_network(path: str | os.PathLike) -> tuple[Network, CoreConfig]:
    """Read a network file; raise :class:`NetworkFileError` if it cannot be trusted."""
    with open(path, "rb") as handle:
        return loads(handle.read(), source=os.fspath(path))


def load_network_with_state(path: str | os.PathLike) -> tuple[Network, CoreConfig, LearningState | None]:
    """Read a network file once: the network, its core and its learning state (None if it has none)."""
    with open(path, "rb") as handle:
        return _loads(handle.read(), source=os.fspath(path))


def load_learning_state(path: str | os.PathLike) -> LearningState | None:
    """The learning state saved with the network at ``path`` (None if it has none)."""
    with open(path, "rb") as handle:
        return loads_learning_state(handle.read(), source=os.fspath(path))
