"""What a model costs: parameters, FLOPs and bytes (`costs`), latency per runtime (`latency`),
and the per-cell measurement that ties them together (`cell`). Uses no suite or record type."""
