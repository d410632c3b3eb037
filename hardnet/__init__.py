"""hardnet: which learners learn planted neural networks that theory says are hard."""

__version__ = "0.1.0"
