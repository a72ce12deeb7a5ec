# The two commands for a fresh machine (see README.md): `make demo` and `make test`.
# Each installs what it needs first.
PYTHON ?= python3
PIP ?= $(PYTHON) -m pip

.PHONY: demo test install-demo install-test system-deps

system-deps:
	bash scripts/install-system-deps tcl espeak-ng flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts

install-demo: system-deps
	$(PIP) install -q -e '.[sim,train,data]'

install-test: system-deps
	$(PIP) install -q -e '.[test]'

demo: install-demo
	$(PYTHON) -m spikestream.cli demo

test: install-test
	$(PYTHON) -m pytest
