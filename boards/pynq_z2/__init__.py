"""PYNQ-Z2 overlay: IP packaging, block design, constraints, hardware handoff, notebooks."""
