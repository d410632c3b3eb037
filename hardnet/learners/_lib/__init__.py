"""Helper libraries of the learners: MLPs (`mlp`), Hermite moments (`hermite`), kernels
(`kernels`) and kernel solvers (`solvers`). Not part of the public API."""
