"""Smoke tests of the benchmark suite in bench/: each suite runs at a tiny size and writes well-formed JSON."""
