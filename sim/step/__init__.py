"""A training step as data: the workload file (spec), its compiler to node programs, its run and report on the RTL, and the GPU-cluster reference model."""
