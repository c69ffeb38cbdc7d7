"""The top layer: the `dojo` command line, the table of emittable tops and the benchmarks."""
