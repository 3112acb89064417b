"""Parity between parakeet_trt and NeMo: the comparisons behind the tests and the reports."""
