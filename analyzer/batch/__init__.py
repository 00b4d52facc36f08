"""Many captures into one Parquet dataset (`socketscope batch`, docs/dataset.md).

A sink beside the exports: `sink.DatasetSink` turns the pipeline's records into rows of the
tables of `schema.py` (`rows.py`), `task.py` is one task (a capture or a share of one),
`engine.py` runs the tasks on Dask and `dataset.py` commits each capture's partition atomically;
`query.py` opens the dataset in DuckDB. Needs the `batch` extra (dask[distributed], pyarrow,
duckdb); nothing else of socketscope imports this package.
"""
