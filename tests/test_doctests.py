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


def docstring_tests(name: str) -> list[doctest.DocTest]:
    """The docstring examples of module ``name`` (imports it)."""
    module = importlib.import_module(name)
    return [test for test in doctest.DocTestFinder(exclude_empty=True).find(module, name) if test.examples]


#: Modules with examples; a module without any has nothing to run here (its import is tested below).
MODULES_WITH_EXAMPLES = [name for name in module_names() if docstring_tests(name)]


def test_the_modules_with_examples_are_found():
    for name in ("golden", "cycles", "encoding", "protocol", "audio.features"):
        assert f"spikestream.model.{name}" in MODULES_WITH_EXAMPLES
    assert "spikestream.host.driver" in MODULES_WITH_EXAMPLES and "spikestream.rtl.csr" in MODULES_WITH_EXAMPLES
    assert len(MODULES_WITH_EXAMPLES) >= 16, MODULES_WITH_EXAMPLES


def test_every_module_imports():
    """Collection above imported them all; this names the golden model's modules among them."""
    names = module_names()
    for name in ("golden", "network", "config", "encoding", "fileformat", "generate", "reference_float"):
        assert f"spikestream.model.{name}" in names


@pytest.mark.parametrize("name", MODULES_WITH_EXAMPLES)
def test_docstring_examples(name):
    report = io.StringIO()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in docstring_tests(name):
        runner.run(test, out=report.write)
    assert runner.failures == 0, report.getvalue()
