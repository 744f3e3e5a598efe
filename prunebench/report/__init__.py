"""Records -> what people read: the row model (`rows`), leaderboards, plots and compare.
Reads records only: nothing here runs a model."""
