"""Run the examples in every spikestream module's docstrings, so that they cannot rot.

Modules are found by walking the installed packages (imported by package name, never by
path), so modules added later are covered without touching this file.
"""

import doctest
import importlib
import io
import pkgutil

import pytest

PACKAGES = ["spikestream", "spikestream.model", "spikestream.rtl", "spikestream.sim", "spikestream.host",
            "spikestream.boards"]


def module_names() -> list[str]:
    names = []
    for package_name in PACKAGES:
        package = importlib.import_module(package_name)
        names.append(package_name)
        names += [info.name for info in pkgutil.walk_packages(package.__path__, package_name + ".")
                  if info.name not in names]
    return sorted(set(names))


def test_the_golden_model_modules_are_found():
    names = module_names()
    for name in ("golden", "network", "config", "encoding", "fileformat", "generate", "reference_float"):
        assert f"spikestream.model.{name}" in names


@pytest.mark.parametrize("name", module_names())
def test_docstring_examples(name):
    module = importlib.import_module(name)
    report = io.StringIO()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in doctest.DocTestFinder(exclude_empty=True).find(module, name):
        runner.run(test, out=report.write)
    assert runner.failures == 0, report.getvalue()
