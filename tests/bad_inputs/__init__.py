"""A corpus of malformed configs and inputs (cases.py) run by tests/test_bad_inputs.py."""
