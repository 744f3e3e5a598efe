"""Everything that knows Ultralytics: its environment, datasets on disk, training, evaluation
(= `yolo val`), checkpoints, what may be pruned, and channel surgery. Nothing here reads suites
or records."""
