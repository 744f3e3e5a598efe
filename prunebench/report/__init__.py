"""Records -> what people read: the row model (`rows`), leaderboards, plots and compare.
Reads records only: nothing here runs a model."""

from prunebench.util.paths import matplotlib_cache

matplotlib_cache()  # before any report imports matplotlib: its font cache goes to prunebench's cache, not $HOME
