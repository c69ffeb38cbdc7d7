"""The FPGA board: UART register bridge and board top."""
