"""Reliability and reproducibility: the bad-input corpus (``badinputs``: every bad input and
fault tried, as data) and the reliability table rendered from a real pytest run of it
(``python -m benchmarks.reliability``); the fingerprints that show a machine generates the same
data bytes (``python -m benchmarks.data_fingerprints``); and the writers of tiny datasets in
their true formats (``tiny_datasets``) that the corpus and the data tests build on."""
