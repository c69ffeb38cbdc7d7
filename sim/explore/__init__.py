"""Design-space exploration on Dask: sweep points as tasks, config grids, resumable result tables."""
