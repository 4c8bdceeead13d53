"""What every benchmark product shares: one training episode per run, driven by a fixed recipe
or a controller (``episodes``); the result files' header, mean ± std and tables (``common``);
the command line, CSV files and sentences of a sweep's report (``reporting``); its plots
(``plots``); and the machine a result was made on (``machine``, the command
``python -m benchmarks.machine``)."""
