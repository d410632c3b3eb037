"""Running cells: the grid and its plan (`grid`, `grid_checks`), the runner (`runner`), executors
and worker processes (`executors`, `worker`), the result store (`results`), TensorBoard logs
(`tblog`), progress lines (`progress`) and memory estimates (`estimate`)."""
