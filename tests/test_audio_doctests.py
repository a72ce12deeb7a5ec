"""Run the examples in the audio modules' docstrings, so they cannot rot."""

import doctest
import importlib

import pytest

MODULES = ["config", "wavio", "features", "encoders", "datasets", "augment"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"spikestream.model.audio.{name}")
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
