"""The shared AdamW factory: fused where torch allows, same updates as the plain loop."""

from __future__ import annotations

import torch

from headstart.training.optim import adamw


def _step(optimizer, params):
    for p in params:
        p.grad = torch.ones_like(p)
    optimizer.step()


def test_fused_on_cpu_and_same_update_as_unfused():
    torch.manual_seed(0)
    a = [torch.nn.Parameter(torch.randn(4, 3)), torch.nn.Parameter(torch.randn(3))]
    b = [torch.nn.Parameter(p.detach().clone()) for p in a]
    fused = adamw(iter(a), lr=1e-2, weight_decay=0.1)  # a generator is accepted
    assert fused.defaults["fused"] is True
    plain = torch.optim.AdamW(b, lr=1e-2, weight_decay=0.1)
    for _ in range(3):
        _step(fused, a)
        _step(plain, b)
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y)


def test_param_groups_keep_their_own_settings():
    head, body = torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(2))
    optimizer = adamw([{"params": [head], "lr": 1e-3}, {"params": [body], "lr": 1e-5, "weight_decay": 0.0}], lr=1e-4)
    assert [g["lr"] for g in optimizer.param_groups] == [1e-3, 1e-5]
    assert optimizer.param_groups[1]["weight_decay"] == 0.0
