"""A PyTorch MLP as a hardnet learner (docs/outside.md).

Written as a PyTorch user would: an `nn.Sequential`, Adam, mini-batches, on the CPU (or a GPU
where torch sees one). hardnet hands it NumPy float32 arrays and scores its predictions. Score
it on the suite's CPU tier:

    pip install torch
    hardnet-score --learner=examples/torch_mlp.py:make --workdir=/tmp/score-torch
"""

import numpy as np
import torch
from torch import nn


class TorchMLP:
    """A depth-3 ReLU MLP of width 128 trained with Adam on the squared error for
    `epochs` passes over the training set (at most `max_steps` steps)."""

    def __init__(
        self,
        input_dim: int,
        seed: int,
        width: int = 128,
        epochs: int = 4,
        batch_size: int = 256,
        max_steps: int = 4000,
        lr: float = 1e-3,
    ):
        torch.manual_seed(seed)
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.net = nn.Sequential(
            nn.Linear(input_dim, width),
            nn.ReLU(),
            nn.Linear(width, width),
            nn.ReLU(),
            nn.Linear(width, 1),
        ).to(self.device)
        self.epochs, self.batch_size, self.max_steps, self.lr = epochs, batch_size, max_steps, lr
        self.generator = torch.Generator().manual_seed(seed)

    def fit(self, x: np.ndarray, y: np.ndarray) -> "TorchMLP":
        xs = torch.from_numpy(x).to(self.device)
        ys = torch.from_numpy(y).to(self.device)
        opt = torch.optim.Adam(self.net.parameters(), lr=self.lr)
        steps = 0
        for _ in range(self.epochs):
            order = torch.randperm(len(xs), generator=self.generator).to(self.device)
            for start in range(0, len(xs), self.batch_size):
                idx = order[start : start + self.batch_size]
                loss = ((self.net(xs[idx]).squeeze(-1) - ys[idx]) ** 2).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
                steps += 1
                if steps >= self.max_steps:
                    return self
        return self

    @torch.no_grad()
    def predict(self, x: np.ndarray) -> np.ndarray:
        out = self.net(torch.from_numpy(x).to(self.device)).squeeze(-1)
        return out.cpu().numpy()


def make(input_dim: int, budget: int, seed: int) -> TorchMLP:
    """The factory hardnet calls: `make(input_dim, budget, seed)`."""
    return TorchMLP(input_dim, seed)
