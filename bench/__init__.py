"""Benchmarks for rollcall: load generators, a pgbench baseline and the report (`python -m bench`)."""
