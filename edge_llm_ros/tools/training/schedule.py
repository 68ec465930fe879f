"""What the training loops here share: shuffled batches, padding, and the optimiser step
(AdamW, linear warm-up then cosine, gradient clipping, a running loss in the log)."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterator, Sequence


def warmup_cosine(step: int, warmup_steps: int, total_steps: int) -> float:
    """Learning-rate factor: linear warm-up, then a cosine down to zero at total_steps."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    return 0.5 * (1.0 + math.cos(math.pi * (step - warmup_steps)
                                 / max(total_steps - warmup_steps, 1)))


def shuffled_batches(count: int, batch_size: int, epochs: int) -> Iterator[list[int]]:
    """Index batches over `count` items, reshuffled each epoch (the `random` module's seed)."""
    for _epoch in range(epochs):
        order = list(range(count))
        random.shuffle(order)
        for b in range(0, count, batch_size):
            yield order[b:b + batch_size]


def pad_batch(sequences: Sequence[Sequence[int]], pad_id: int):
    """(token ids, attention mask) tensors, right-padded to the longest sequence."""
    import torch

    width = max(len(seq) for seq in sequences)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for r, seq in enumerate(sequences):
        ids[r, :len(seq)] = torch.tensor(seq)
        mask[r, :len(seq)] = 1
    return ids, mask


class Optimiser:
    """AdamW over `params` for `total_steps` steps; step(loss) does one update and logs."""

    def __init__(self, params: list, learning_rate: float, weight_decay: float,
                 warmup_steps: int, total_steps: int, log: Callable[[str], None],
                 log_every: int = 50) -> None:
        import torch

        self.params = params
        self.total_steps = total_steps
        self.losses: list[float] = []
        self._opt = torch.optim.AdamW(params, lr=learning_rate, weight_decay=weight_decay)
        self._sched = torch.optim.lr_scheduler.LambdaLR(
            self._opt, lambda step: warmup_cosine(step, warmup_steps, total_steps))
        self._log, self._every, self._t0 = log, log_every, time.monotonic()

    def step(self, loss) -> None:
        import torch

        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.params, 1.0)
        self._opt.step()
        self._sched.step()
        self._opt.zero_grad(set_to_none=True)
        self.losses.append(float(loss.detach()))
        done = len(self.losses)
        if done % self._every == 0 or done == self.total_steps:
            self._log(f"[train] step {done}/{self.total_steps} loss {self.recent_loss:.4f} "
                      f"({time.monotonic() - self._t0:.0f} s)")

    @property
    def recent_loss(self) -> float:
        tail = self.losses[-self._every:]
        return sum(tail) / max(len(tail), 1)
