"""The .spkn network file: exact round trip, and every kind of damage refused clearly."""

import hashlib
import io
import json
import struct
import zipfile

import numpy as np
import pytest

from spikestream.model import (INPUT, CoreConfig, LearningRule, Network, NetworkFileError, Population, SynapseGroup,
                               load_network, save_network)
from spikestream.model.fileformat import FORMAT_VERSION, MAGIC, dumps, loads
from spikestream.model.generate import RandomNetworkOptions, random_network

HEADER = struct.Struct("<8sIQ32s")
CORE = CoreConfig(max_neurons=64, max_inputs=32, lanes=4, adaptation=True)


def sample(seed: int = 0):
    rng = np.random.default_rng(seed)
    return random_network(rng, CORE, RandomNetworkOptions(learning=True, pruning=True))


@pytest.mark.parametrize("seed", range(12))
def test_random_networks_round_trip_exactly(seed, tmp_path):
    network = sample(seed)
    path = tmp_path / "net.spkn"
    save_network(path, network, CORE)
    loaded, core = load_network(path)
    assert core == CORE
    assert loaded == network
    assert [g.learning for g in loaded.groups] == [g.learning for g in network.groups]
    assert [g.pruning for g in loaded.groups] == [g.pruning for g in network.groups]
    assert loaded.synapses().weight.tolist() == network.synapses().weight.tolist()
    assert dumps(loaded, core) == path.read_bytes()  # byte-exact: deterministic writer
    assert not (tmp_path / "net.spkn.tmp").exists()


def test_round_trip_covers_learning_and_pruning_rules():
    rules = [g for seed in range(12) for g in sample(seed).groups]
    assert any(g.learning is not None for g in rules)
    assert any(g.pruning is not None for g in rules)


def test_header_layout():
    data = dumps(sample(), CORE)
    magic, version, length, digest = HEADER.unpack_from(data)
    assert magic == MAGIC == b"SPKNET\r\n"
    assert version == FORMAT_VERSION
    assert length == len(data) - HEADER.size
    assert digest == hashlib.sha256(data[HEADER.size:]).digest()


def rewrite_header(data: bytes, **fields) -> bytes:
    header = dict(zip(("magic", "version", "length", "digest"), HEADER.unpack_from(data)))
    header.update(fields)
    return HEADER.pack(header["magic"], header["version"], header["length"], header["digest"]) + data[HEADER.size:]


@pytest.mark.parametrize("offset_from_end", [1, 100, 500])
def test_corrupt_byte_is_refused(offset_from_end):
    data = bytearray(dumps(sample(), CORE))
    data[-offset_from_end] ^= 0x01
    with pytest.raises(NetworkFileError, match="is corrupt: its SHA-256 checksum does not match the payload"):
        loads(bytes(data))


def test_truncated_and_padded_files_are_refused():
    data = dumps(sample(), CORE)
    with pytest.raises(NetworkFileError, match=r"is truncated or padded: payload of \d+ bytes, header says \d+"):
        loads(data[:-1])
    with pytest.raises(NetworkFileError, match=r"is truncated or padded"):
        loads(data + b"\0")
    with pytest.raises(NetworkFileError, match=r"is truncated: 10 bytes, the header alone is 52"):
        loads(data[:10])
    with pytest.raises(NetworkFileError, match=r"is truncated: 0 bytes"):
        loads(b"")


def test_wrong_magic_is_refused():
    data = rewrite_header(dumps(sample(), CORE), magic=b"NOTSPKN\n")
    with pytest.raises(NetworkFileError, match=r"is not a spikestream network file \(magic b'NOTSPKN\\n', expected"):
        loads(data)


def test_newer_and_invalid_versions_are_refused():
    data = dumps(sample(), CORE)
    with pytest.raises(NetworkFileError, match=rf"has format version {FORMAT_VERSION + 1}, newer than this "
                                               rf"spikestream reads \({FORMAT_VERSION}\); upgrade spikestream"):
        loads(rewrite_header(data, version=FORMAT_VERSION + 1))
    with pytest.raises(NetworkFileError, match=r"has format version 0, expected 1 \.\. "):
        loads(rewrite_header(data, version=0))


def test_file_name_appears_in_the_error(tmp_path):
    path = tmp_path / "broken.spkn"
    path.write_bytes(dumps(sample(), CORE)[:-3])
    with pytest.raises(NetworkFileError, match=f"^{path} is truncated or padded"):
        load_network(path)


def with_payload(payload: bytes) -> bytes:
    """A file with a correct header and checksum around an arbitrary payload."""
    return HEADER.pack(MAGIC, FORMAT_VERSION, len(payload), hashlib.sha256(payload).digest()) + payload


def test_checksummed_but_malformed_payload_is_refused():
    with pytest.raises(NetworkFileError, match=r"valid checksum but a malformed payload \(BadZipFile: "):
        loads(with_payload(b"not an archive"))
    buffer = io.BytesIO()
    np.savez(buffer, meta=np.frombuffer(json.dumps({"core": {}}).encode(), np.uint8))
    with pytest.raises(NetworkFileError, match=r"valid checksum but a malformed payload \(KeyError: 'network'\)"):
        loads(with_payload(buffer.getvalue()))


def test_network_that_does_not_fit_its_own_core_is_refused():
    data = dumps(sample(), CORE)
    with zipfile.ZipFile(io.BytesIO(data[HEADER.size:])) as archive:
        arrays = {name[:-4]: np.load(archive.open(name)) for name in archive.namelist()}
    meta = json.loads(arrays["meta"].tobytes())
    meta["core"]["max_neurons"] = 1
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    with pytest.raises(NetworkFileError, match=r"holds an invalid network: network does not fit .*neurons = \d+ "
                                               r"exceeds the core's 1"):
        loads(with_payload(buffer.getvalue()))


def test_network_that_does_not_fit_is_not_written():
    network = sample()
    with pytest.raises(ValueError, match="does not fit"):
        dumps(network, CoreConfig(max_neurons=1, max_inputs=32))


def test_numpy_integers_a_network_accepts_are_saved(tmp_path):
    network = Network(np.int64(3), [Population("o", np.int64(2))],
                      [SynapseGroup(INPUT, "o", np.ones((3, 2), int), exponent=np.int64(1),
                                    learning=LearningRule(a_plus=np.int64(3)))], np.int64(5), "o")
    save_network(tmp_path / "n.spkn", network, CoreConfig())
    assert load_network(tmp_path / "n.spkn")[0] == network


def test_a_learning_state_travels_with_the_network_and_is_checked(tmp_path):
    from spikestream.model.fileformat import LearningState, load_learning_state

    network = Network(3, [Population("o", 2)], [SynapseGroup(INPUT, "o", np.ones((3, 2), int),
                                                             learning=LearningRule(a_plus=3))], 5, "o")
    counts = np.arange(6) % 4
    save_network(tmp_path / "n.spkn", network, CoreConfig(), LearningState(counts, 1234))
    state = load_learning_state(tmp_path / "n.spkn")
    assert np.array_equal(state.prune_count, counts) and state.lfsr == 1234
    assert load_network(tmp_path / "n.spkn")[0] == network
    save_network(tmp_path / "plain.spkn", network, CoreConfig())
    assert load_learning_state(tmp_path / "plain.spkn") is None
    for bad, message in ((LearningState(counts[:5], 1234), r"prune_count has shape \(5,\)"),
                         (LearningState(counts + 20, 1234), "pruning counters span 20 .. 23, expected 0 .. 15"),
                         (LearningState(counts, 0), "lfsr = 0 must be a non-zero 16-bit LFSR state")):
        with pytest.raises(ValueError, match=message):
            save_network(tmp_path / "bad.spkn", network, CoreConfig(), bad)


def _archive(data: bytes) -> dict:
    with zipfile.ZipFile(io.BytesIO(data[HEADER.size:])) as archive:
        return {name[:-4]: np.load(archive.open(name)) for name in archive.namelist()}


def _repacked(arrays: dict, raw: dict | None = None) -> bytes:
    """A checksummed file of ``arrays`` (np.savez) plus ``raw`` members written as they are."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    if raw:
        with zipfile.ZipFile(buffer, "a") as archive:
            for name, content in raw.items():
                archive.writestr(name, content)
    return with_payload(buffer.getvalue())


def _huge_member() -> bytes:
    """A .npy header declaring 10**6 x 10**6 int16 with no data behind it."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<i2", "fortran_order": False, "shape": (10**6, 10**6)})
    return header.getvalue()


@pytest.mark.parametrize("change, message", [
    (lambda a: a.update(g0_weights=a["g0_weights"].astype(np.float64) + 0.7), r"'g0_weights' holds float64"),
    (lambda a: a.update(g0_weights=np.full(a["g0_weights"].shape, 2**64 - 1, np.uint64)), r"'g0_weights' holds uint64"),
    (lambda a: a.update(g0_weights=a["g0_weights"] != 0), r"'g0_weights' holds bool"),
    (lambda a: a.update(p0_threshold=a["p0_threshold"].astype(np.complex128)), r"'p0_threshold' holds complex128"),
    (lambda a: a.update(g0_mask=a["g0_mask"].astype(np.int8)), r"'g0_mask' holds int8"),
    (lambda a: a.update(extra=np.zeros(3, np.int64)), r"members \['extra'\] are unexpected"),
    (lambda a: a.pop("g0_mask"), r"\['g0_mask'\] are missing"),
    (lambda a: a.update(learning_prune_count=np.zeros(1, np.int64)), r"\['learning_prune_count'\] are unexpected"),
])
def test_members_of_the_wrong_kind_or_set_are_refused_not_converted(change, message):
    """Re-checksummed payloads that a cast would have accepted (1.7 -> 1, 2**64 - 1 -> -1) are refused."""
    arrays = _archive(dumps(sample(), CORE))
    change(arrays)
    with pytest.raises(NetworkFileError, match=r"valid checksum but a malformed payload \(ValueError: .*" + message):
        loads(_repacked(arrays))


def test_members_that_are_not_arrays_or_claim_more_than_they_hold_are_refused():
    arrays = _archive(dumps(sample(), CORE))
    with pytest.raises(NetworkFileError, match=r"member 'notes' is not a \.npy array"):
        loads(_repacked(arrays, {"notes": b"hello"}))
    with pytest.raises(NetworkFileError, match=r"member 'big' declares shape \(1000000, 1000000\) \(2000000000000 bytes\)"):
        loads(_repacked(arrays, {"big.npy": _huge_member()}))
    meta = json.loads(arrays["meta"].tobytes())
    arrays["meta"] = np.frombuffer(json.dumps([meta]).encode(), np.uint8)
    with pytest.raises(NetworkFileError, match="meta is a JSON list, expected an object"):
        loads(_repacked(arrays))
