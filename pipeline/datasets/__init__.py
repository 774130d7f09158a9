"""Data sets: fetch or import raw data, read and check it, preprocess it into a zarr store,
and open that store for a stage."""
