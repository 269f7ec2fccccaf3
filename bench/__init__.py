"""``make bench``: every hot path measured beside its own ceiling in the same run
(``python -m bench --help``); results in ``bench/results/latest.json``."""
