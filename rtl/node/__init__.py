"""The training node: network interface, SRAM, matrix engine, floating point, MAC."""
