# The two commands for a fresh machine (see README.md): `make demo` and `make test`.
# Each installs what it needs first.
PYTHON ?= python3
PIP ?= $(PYTHON) -m pip

.PHONY: demo test install-demo install-test system-deps pynq-venv

system-deps:
	bash scripts/install-system-deps tcl espeak-ng flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts

install-demo: system-deps
	$(PIP) install -q -e '.[sim,train,data]'

# pynq pins numpy < 2, so the real pynq API the board tests call lives in a venv of its own.
pynq-venv:
	PYTHON=$(PYTHON) bash scripts/install-pynq-venv

install-test: system-deps pynq-venv
	$(PIP) install -q -e '.[test]'

demo: install-demo
	$(PYTHON) -m spikestream.cli demo

test: install-test
	$(PYTHON) -m pytest
