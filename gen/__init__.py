"""Generator: config schema, physical derivation, Verilog emission, CLI."""
