"""Golden models, cocotb testbenches, drivers, monitors and scoreboards."""
