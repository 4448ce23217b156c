"""Whole collections under ``torchrun``: every rank embeds (or classifies) its fixed share of the input
into one Parquet data set, resumably, one job per output folder (``run.run_collection``)."""
