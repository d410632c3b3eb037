"""Helper libraries of the learners: MLPs (`mlp`), Hermite moments (`hermite`), the `tensor`
learner's moment estimate and refinement (`tensor_method`, `tensor_refine`), kernels (`kernels`)
and kernel solvers (`solvers`). Not part of the public API."""
