"""One run, ``python -m training.run_marl``: build the env and the controller, play them with
the run's callbacks (``loop``), then write the summary and ``report.png`` (``report``)."""
