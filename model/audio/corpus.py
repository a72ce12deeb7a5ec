"""The built-in spoken-word corpus: TI46-style digits and letters from offline speech synthesis.

Words: the ten digits ``zero`` .. ``nine`` and the 26 letters ``a`` .. ``z`` (spoken as
letter names), as in TI46 (TI-20 digits and TI-alpha). Subsets: ``digits`` (10 classes),
``letters`` (26) and ``all`` (36).

Speakers are ``(engine, voice, pitch, tempo, warp)`` combinations of the speech engines
in Debian main (``make system-deps`` installs them):

* ``espeak-ng``: every English accent (``en-us``, ``en-gb``, ``en-gb-scotland``, ...)
  with the voice variants (``+m3``, ``+f2``, ``+klatt``, named variants ...), pitch
  (``-p``) and speed (``-s``);
* ``flite``: voices ``kal``, ``kal16``, ``awb``, ``rms``, ``slt``;
* ``festival``: ``kal_diphone``, ``ked_diphone``, ``cmu_us_slt_arctic_hts``.

``tempo`` scales the speaking rate inside the engine; ``warp`` resamples the result
(``warp > 1`` raises pitch and formants together, like a shorter vocal tract).

Splits are by *voice family* (the espeak variant, or the recorded speaker behind a
flite/festival voice), so every pitch/tempo/accent version of a test voice is in the
test split and never in training: ``train`` (about 70 % of families of each engine),
``val`` (10 %), ``test`` (20 %); all of one held-out engine (default ``festival``) is
``holdout``: an unseen synthesiser. flite's ``slt``, the only recorded female voice,
always trains (:data:`TRAIN_ONLY_FAMILIES`). Note that festival's ``kal`` and ``slt``
voices come from the same recorded speakers as flite's ``kal`` and ``slt``.

Files: ``<root>/<speaker>/<label>.wav`` (16 kHz mono 16-bit), ``metadata.csv`` with
``path,label,speaker,engine,split``, ``classes.txt`` (class order), ``corpus.json``
(speakers, counts, build time).
"""

from __future__ import annotations

import concurrent.futures
import csv
import dataclasses
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from .wavio import read_wav, resample, write_wav

__all__ = ["DIGITS", "LETTERS", "SUBSETS", "Speaker", "default_speakers", "assign_splits", "available_engines",
           "synthesize", "build_corpus", "corpus_dir", "select_speakers", "cache_root", "SAMPLE_RATE", "CORPUS_VERSION",
           "voice_of"]

log = logging.getLogger("spikestream.audio")

DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
LETTERS = tuple("abcdefghijklmnopqrstuvwxyz")
SUBSETS: dict[str, tuple[str, ...]] = {"digits": DIGITS, "letters": LETTERS, "all": DIGITS + LETTERS}
SAMPLE_RATE = 16000
#: Bump when synthesis changes, so stale caches are rebuilt instead of reused.
CORPUS_VERSION = 2

#: English accents of espeak-ng that need no MBROLA (non-free) data.
ESPEAK_ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd",
                  "en-029", "en-us-nyc")
#: Voice variants that sound like a human speaker (robots, whisper, croak and demons left out).
ESPEAK_VARIANTS = (
    "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "f1", "f2", "f3", "f4", "f5",
    "klatt", "klatt2", "klatt3", "klatt4", "klatt5", "klatt6",
    "adam", "Alex", "Alicia", "Andrea", "Andy", "Annie", "antonio", "aunty", "belinda", "benjamin", "boris",
    "caleb", "david", "Denis", "Diogo", "ed", "edward", "edward2", "Gene", "Gene2", "gustave", "announcer",
    "Henrique", "Hugo", "iven", "iven2", "iven3", "iven4", "Jacky", "john", "kaukovalta", "Lee", "linda",
    "marcelo", "Marco", "Mario", "max", "Michael", "michel", "miguel", "Mike", "Mr", "Nguyen", "pablo", "paul",
    "pedro", "quincy", "rob", "robert", "steph", "steph2", "steph3", "Storm", "Tweaky", "zac", "anika",
    "AnxiousAndy", "grandpa", "grandma", "norbert", "sandro", "shelby", "travis", "victor",
)
#: flite voice -> recorded speaker (``awb_time`` is a talking clock and is left out).
FLITE_VOICES = {"kal": "kal", "kal16": "kal", "awb": "awb", "rms": "rms", "slt": "slt"}
#: festival voice -> (Debian package, recorded speaker).
FESTIVAL_VOICES = {"kal_diphone": ("festvox-kallpc16k", "kal"), "ked_diphone": ("festvox-kdlpc16k", "ked"),
                   "cmu_us_slt_arctic_hts": ("festvox-us-slt-hts", "slt")}
ENGINE_COMMANDS = {"espeak-ng": "espeak-ng", "flite": "flite", "festival": "festival"}


def cache_root() -> Path:
    """Return ``$SPIKESTREAM_CACHE`` or ``~/.cache/spikestream`` (not created)."""
    root = os.environ.get("SPIKESTREAM_CACHE")
    return Path(root).expanduser() if root else Path.home() / ".cache" / "spikestream"


def corpus_dir(subset: str, max_speakers: int | None = None) -> Path:
    """Return the default folder of a built-in subset: ``<cache>/corpus/tts-<subset>-v<N>[-s<max_speakers>]``."""
    _check_subset(subset)
    suffix = "" if max_speakers is None else f"-s{max_speakers}"
    return cache_root() / "corpus" / f"tts-{subset}-v{CORPUS_VERSION}{suffix}"


def select_speakers(speakers: list[Speaker], count: int) -> list[Speaker]:
    """Return ``count`` speakers evenly spread over the list (so over every engine and voice)."""
    if count < 1:
        raise ValueError(f"speaker count {count} must be at least 1")
    if count >= len(speakers):
        return list(speakers)
    return [speakers[int(i)] for i in np.linspace(0, len(speakers) - 1, count).round()]


def _check_subset(subset: str) -> None:
    if subset not in SUBSETS:
        raise ValueError(f"subset {subset!r} is not one of {sorted(SUBSETS)}")


@dataclasses.dataclass(frozen=True)
class Speaker:
    """One synthetic speaker.

    Parameters
    ----------
    engine : str
        ``espeak-ng``, ``flite`` or ``festival``.
    voice : str
        The engine's voice (espeak: ``accent+variant``).
    family : str
        The voice identity used for splits (espeak variant, or the recorded speaker).
    pitch : int
        espeak-ng base pitch ``-p`` (0-99, 50 is the default); unused by other engines.
    tempo : float
        Speaking rate relative to the engine default (espeak ``-s 175*tempo``, flite and
        festival ``duration_stretch = 1 / tempo``).
    warp : float
        Post-synthesis resampling factor: pitch and formants times ``warp``.
    """

    engine: str
    voice: str
    family: str
    pitch: int = 50
    tempo: float = 1.0
    warp: float = 1.0

    @property
    def name(self) -> str:
        """A file-system-safe unique name, e.g. ``espeak-ng_en-us+f3_p50_t1.00_w1.00``.

        :func:`voice_of` reads the voice back (keep the two together).
        """
        return f"{self.engine}_{self.voice}_p{self.pitch}_t{self.tempo:.2f}_w{self.warp:.2f}"

    def text(self, label: str) -> str:
        """Return what to ask the engine to say for a label (letters as letter names)."""
        if len(label) == 1:
            # festival reads a lone "A" as the article; "ay" gives the letter name.
            return "ay" if (self.engine == "festival" and label == "a") else label.upper()
        return label


#: The variation suffix of :attr:`Speaker.name` (``_p<pitch>_t<tempo>_w<warp>``).
_VARIATION = re.compile(r"_p\d+_t[\d.]+_w[\d.]+$")


def voice_of(speaker: str) -> str:
    """The voice of a speaker name (``<engine>_<voice>``): :attr:`Speaker.name` without its variation.

    Every pitch, tempo and warp of one voice gives the same result; a name without a
    variation (a user's dataset) is returned as it is.
    """
    return _VARIATION.sub("", speaker)


def _stable_unit(text: str) -> float:
    """Map a string to [0, 1) deterministically (same on every machine and Python run)."""
    return int(hashlib.sha256(text.encode()).hexdigest()[:12], 16) / 16**12


def default_speakers(seed: int = 0, variations: int = 5) -> list[Speaker]:
    """Return the built-in speaker list (deterministic for a seed).

    espeak-ng: one speaker per variant with a random accent, pitch, tempo and a mild
    warp, plus each accent's default voice; flite and festival (few voices, all but one
    male): each voice plainly and in ``variations`` random (tempo, warp) versions, warps
    up to 1.2 making higher, shorter vocal tracts.
    """
    rng = np.random.default_rng(seed)
    speakers = []
    for variant in ESPEAK_VARIANTS:
        accent = ESPEAK_ACCENTS[rng.integers(len(ESPEAK_ACCENTS))]
        speakers.append(Speaker("espeak-ng", f"{accent}+{variant}", variant, pitch=int(rng.integers(25, 76)),
                                tempo=round(float(rng.uniform(0.8, 1.2)), 2),
                                warp=round(float(rng.uniform(0.92, 1.08)), 2)))
    for accent in ESPEAK_ACCENTS:
        speakers.append(Speaker("espeak-ng", accent, "default", pitch=int(rng.integers(35, 66)),
                                tempo=round(float(rng.uniform(0.85, 1.15)), 2)))
    for engine, voices in (("flite", dict(FLITE_VOICES)),
                           ("festival", {voice: family for voice, (_, family) in FESTIVAL_VOICES.items()})):
        for voice, family in voices.items():
            speakers.append(Speaker(engine, voice, family))
            for _ in range(variations):
                speakers.append(Speaker(engine, voice, family, tempo=round(float(rng.uniform(0.85, 1.15)), 2),
                                        warp=round(float(rng.uniform(0.85, 1.2)), 2)))
    return speakers


#: Voice families that always train: flite's ``slt`` is the only female recorded voice, so
#: testing on it would test a kind of voice the training set has none of.
TRAIN_ONLY_FAMILIES = {("flite", "slt")}


def assign_splits(speakers: list[Speaker], holdout_engine: str | None = "festival",
                  fractions: tuple[float, float] = (0.1, 0.2)) -> dict[str, str]:
    """Map each speaker name to ``train``, ``val``, ``test`` or ``holdout``.

    Families of each engine are ordered by a stable hash (:data:`TRAIN_ONLY_FAMILIES`
    last); the first ``test`` fraction (at least one family) is ``test``, the next
    ``val`` fraction is ``val``, the rest ``train``. Every speaker of ``holdout_engine``
    is ``holdout``.
    """
    val_fraction, test_fraction = fractions
    split_of_family: dict[tuple[str, str], str] = {}
    for engine in sorted({s.engine for s in speakers}):
        if engine == holdout_engine:
            continue
        families = sorted({s.family for s in speakers if s.engine == engine},
                          key=lambda f: ((engine, f) in TRAIN_ONLY_FAMILIES, _stable_unit(engine + f)))
        n_test = max(1, round(test_fraction * len(families))) if len(families) > 1 else 0
        n_val = round(val_fraction * len(families))
        for index, family in enumerate(families):
            split_of_family[engine, family] = "test" if index < n_test else "val" if index < n_test + n_val else "train"
    return {s.name: "holdout" if s.engine == holdout_engine else split_of_family[s.engine, s.family] for s in speakers}


def available_engines() -> dict[str, bool]:
    """Return which speech engines are on the PATH."""
    return {engine: shutil.which(command) is not None for engine, command in ENGINE_COMMANDS.items()}


def _festival_voices_installed() -> set[str]:
    roots = [Path("/usr/share/festival/voices")]
    return {p.name for root in roots if root.is_dir() for p in root.glob("*/*") if p.is_dir()}


def _postprocess(raw: np.ndarray, rate: int, warp: float) -> np.ndarray:
    """Warp, resample to 16 kHz, trim silence (50 ms margin) and set the peak to 0.5."""
    if raw.size == 0 or not np.any(raw):
        raise RuntimeError("the engine produced silence")
    # Playing the samples as if recorded at rate * warp scales every frequency by warp.
    samples = resample(raw, raw.size, max(1, int(round(raw.size * SAMPLE_RATE / (rate * warp)))))
    frame = SAMPLE_RATE // 100
    energy = np.add.reduceat(samples**2, np.arange(0, samples.size, frame))
    loud = np.flatnonzero(energy > energy.max() * 10 ** (-50 / 10))
    margin = SAMPLE_RATE // 20
    samples = samples[max(0, loud[0] * frame - margin): (loud[-1] + 1) * frame + margin]
    return samples * (0.5 / np.abs(samples).max())


def _run(command: list[str], what: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise RuntimeError(f"{what}: {' '.join(command[:3])} ... failed ({result.returncode}): {result.stderr[-400:]}")


def synthesize(speaker: Speaker, labels: list[str] | tuple[str, ...], out_dir: Path,
               reuse_dirs: tuple[Path, ...] = ()) -> list[Path]:
    """Synthesize ``labels`` with one speaker into ``out_dir/<label>.wav`` (16 kHz mono).

    Files that already exist are kept (an interrupted build resumes); a file this speaker
    already has in one of ``reuse_dirs`` (another subset's folder) is hard-linked or copied.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    for label in labels:
        target = out_dir / f"{label}.wav"
        source = next((d / f"{label}.wav" for d in reuse_dirs if (d / f"{label}.wav").exists()), None)
        if source is not None and not target.exists():
            try:
                os.link(source, target)
            except OSError:  # another file system: copy instead
                shutil.copyfile(source, target)
    todo = [label for label in labels if not (out_dir / f"{label}.wav").exists()]
    if todo:
        with tempfile.TemporaryDirectory(prefix="spikestream-tts-") as scratch:
            raw_paths = _synthesize_raw(speaker, todo, Path(scratch))
            for label, raw_path in zip(todo, raw_paths):
                raw, rate = read_wav(raw_path)
                try:
                    samples = _postprocess(raw, rate, speaker.warp)
                except RuntimeError as error:
                    raise RuntimeError(f"{speaker.name} saying {label!r}: {error}") from None
                partial = out_dir / f".{label}.wav.part"
                write_wav(partial, samples, SAMPLE_RATE)
                partial.replace(out_dir / f"{label}.wav")  # atomic: no half-written WAV survives
    return [out_dir / f"{label}.wav" for label in labels]


def _synthesize_raw(speaker: Speaker, labels: list[str], scratch: Path) -> list[Path]:
    paths = [scratch / f"{label}.wav" for label in labels]
    if speaker.engine == "espeak-ng":
        for label, path in zip(labels, paths):
            words_per_minute = int(round(175 * speaker.tempo))  # espeak-ng's default speed is 175
            _run(["espeak-ng", "-v", speaker.voice, "-p", str(speaker.pitch), "-s", str(words_per_minute),
                  "-w", str(path), speaker.text(label)], speaker.name)
    elif speaker.engine == "flite":
        for label, path in zip(labels, paths):
            _run(["flite", "-voice", speaker.voice, "--setf", f"duration_stretch={1 / speaker.tempo:.3f}",
                  "-t", speaker.text(label), "-o", str(path)], speaker.name)
    elif speaker.engine == "festival":
        # One festival process per speaker: starting festival costs far more than a word.
        lines = [f"(voice_{speaker.voice})", f"(Parameter.set 'Duration_Stretch {1 / speaker.tempo:.3f})"]
        for label, path in zip(labels, paths):
            lines.append(f'(utt.save.wave (SynthText "{speaker.text(label)}") "{path}" \'riff)')
        script = scratch / "synth.scm"
        script.write_text("\n".join(lines) + "\n")
        _run(["festival", "-b", str(script)], speaker.name)
        missing = [p.name for p in paths if not p.exists()]
        if missing:
            raise RuntimeError(f"{speaker.name}: festival wrote no {missing[0]} (is voice {speaker.voice} installed?)")
    else:
        raise ValueError(f"engine {speaker.engine!r} is not one of {sorted(ENGINE_COMMANDS)}")
    return paths


def usable_speakers(speakers: list[Speaker]) -> list[Speaker]:
    """Drop speakers whose engine or festival voice is not installed (logged)."""
    engines = available_engines()
    festival_voices = _festival_voices_installed() if engines["festival"] else set()
    usable = []
    for speaker in speakers:
        if not engines.get(speaker.engine, False):
            continue
        if speaker.engine == "festival" and speaker.voice not in festival_voices:
            continue
        usable.append(speaker)
    missing = sorted({s.engine if not engines.get(s.engine) else f"festival voice {s.voice}"
                      for s in speakers if s not in usable})
    if missing:
        log.warning("not installed, skipped: %s (run `make system-deps`)", ", ".join(missing))
    return usable


def build_corpus(subset: str = "digits", out: str | Path | None = None, speakers: list[Speaker] | None = None,
                 holdout_engine: str | None = "festival", workers: int | None = None,
                 force: bool = False, max_speakers: int | None = None) -> Path:
    """Synthesize a subset into ``out`` (default :func:`corpus_dir`) and return the folder.

    ``speakers`` defaults to :func:`default_speakers`; ``max_speakers`` keeps that many,
    spread over all engines (:func:`select_speakers`), for quick builds. A folder whose
    ``corpus.json`` matches the request is reused as it is (unless ``force``). Synthesis
    runs ``workers`` speakers in parallel (default: the number of CPUs).
    """
    _check_subset(subset)
    labels = SUBSETS[subset]
    root = Path(out) if out is not None else corpus_dir(subset, max_speakers)
    speakers = usable_speakers(default_speakers() if speakers is None else list(speakers))
    if max_speakers is not None:
        speakers = select_speakers(speakers, max_speakers)
    if not speakers:
        raise RuntimeError("no speech engine is installed: install espeak-ng, flite or festival "
                           "(`make system-deps` or `bash scripts/install-system-deps espeak-ng flite festival`)")
    root.mkdir(parents=True, exist_ok=True)
    # Several training workers may ask for the same corpus at once: one builds, the
    # others wait for it and then find it up to date.
    with open(root / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _build_locked(subset, labels, root, speakers, holdout_engine, workers, force)


def _build_locked(subset: str, labels: tuple[str, ...], root: Path, speakers: list[Speaker],
                  holdout_engine: str | None, workers: int | None, force: bool) -> Path:
    splits = assign_splits(speakers, holdout_engine)
    request = {"version": CORPUS_VERSION, "subset": subset, "labels": list(labels),
               "speakers": [dataclasses.asdict(s) for s in speakers], "holdout_engine": holdout_engine,
               "splits": splits}
    manifest = root / "corpus.json"
    if not force and manifest.exists() and (root / "metadata.csv").exists():
        previous = json.loads(manifest.read_text())
        if previous.get("request") == request:
            log.info("corpus %s is up to date (%d utterances)", root, previous["utterances"])
            return root
    (root / "metadata.csv").unlink(missing_ok=True)  # the folder is not a dataset until complete
    started, cpu_started = time.perf_counter(), os.times()
    workers = workers or os.cpu_count() or 1
    # Words another built-in subset already has (digits inside "all") are linked, not re-synthesized.
    siblings = [corpus_dir(other) for other in SUBSETS if corpus_dir(other) != root and corpus_dir(other).is_dir()]
    log.info("synthesizing %d words x %d speakers with %d workers into %s", len(labels), len(speakers), workers, root)
    # festival speakers are the slowest jobs: start them first so the pool ends together.
    order = sorted(speakers, key=lambda s: s.engine != "festival")
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        jobs = {pool.submit(synthesize, s, labels, root / s.name, tuple(d / s.name for d in siblings)): s
                for s in order}
        for job in concurrent.futures.as_completed(jobs):
            job.result()
    rows = [{"path": f"{s.name}/{label}.wav", "label": label, "speaker": s.name, "engine": s.engine,
             "split": splits[s.name]} for s in speakers for label in labels]
    elapsed = time.perf_counter() - started
    cpu_now = os.times()
    # CPU of this process and of the synthesizers it ran: the cost on an idle machine.
    cpu_seconds = sum(cpu_now[i] - cpu_started[i] for i in range(4))
    (root / "classes.txt").write_text("\n".join(labels) + "\n")
    counts = {split: {"speakers": len({r["speaker"] for r in rows if r["split"] == split}),
                      "utterances": sum(r["split"] == split for r in rows)}
              for split in ("train", "val", "test", "holdout")}
    manifest.write_text(json.dumps({"request": request, "utterances": len(rows), "splits": counts,
                                    "build_seconds": round(elapsed, 2), "cpu_seconds": round(cpu_seconds, 2),
                                    "workers": workers}, indent=1))
    partial = root / ".metadata.csv.part"
    with open(partial, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["path", "label", "speaker", "engine", "split"])
        writer.writeheader()
        writer.writerows(rows)
    partial.replace(root / "metadata.csv")
    log.info("built %d utterances in %.1f s: %s", len(rows), elapsed, counts)
    return root
