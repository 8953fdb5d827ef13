"""The shared training step and its AdamW factory (fused where torch allows, same updates as the plain loop)."""

from __future__ import annotations

import torch

from headstart.training.step import TrainStep, adamw


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


def _tiny(seed: int = 0):
    torch.manual_seed(seed)
    return torch.nn.Linear(3, 1), torch.randn(8, 3), torch.randn(8, 1)


def test_one_step_is_the_hand_written_step():
    """TrainStep runs exactly what each loop used to write out: zero-grad, backward, clip, step, schedule."""
    from headstart.training.schedules import make_scheduler

    model, x, y = _tiny()
    reference = torch.nn.Linear(3, 1)
    reference.load_state_dict(model.state_dict())
    step = TrainStep(model.parameters(), lr=0.1, total_steps=4, schedule="linear", warmup_steps=1,
                     max_grad_norm=0.01, progress=False)
    optimizer = adamw(reference.parameters(), lr=0.1)
    scheduler = make_scheduler(optimizer, "linear", 4, 1)
    for _ in range(3):
        value = step(lambda: torch.nn.functional.mse_loss(model(x), y))
        loss = torch.nn.functional.mse_loss(reference(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(reference.parameters(), 0.01)
        optimizer.step()
        scheduler.step()
        assert value == float(loss.item())
    step.close()
    assert step.steps == 3
    for a, b in zip(model.parameters(), reference.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert step.optimizer.param_groups[0]["lr"] == optimizer.param_groups[0]["lr"]


def test_no_clipping_at_zero_and_clipping_over_the_given_parameters():
    model, x, y = _tiny()
    step = TrainStep(model.parameters(), lr=1e-3, total_steps=1, max_grad_norm=0.0, progress=False)
    step(lambda: 1e3 * torch.nn.functional.mse_loss(model(x), y))
    assert float(torch.cat([p.grad.flatten() for p in model.parameters()]).norm()) > 1.0  # left as computed
    model, x, y = _tiny()
    step = TrainStep(model.parameters(), lr=1e-3, total_steps=1, max_grad_norm=1.0, clip=[model.weight],
                     progress=False)
    step(lambda: 1e3 * torch.nn.functional.mse_loss(model(x), y))
    assert float(model.weight.grad.norm()) <= 1.0 + 1e-6
    assert float(model.bias.grad.norm()) > 1.0  # not named in `clip`


def test_schedules_by_name_by_multiplier_and_none():
    rates = {}
    for schedule in ("linear", lambda s: 0.5 ** (s + 1), None):
        model, x, y = _tiny()
        step = TrainStep(model.parameters(), lr=1.0, total_steps=4, schedule=schedule, warmup_steps=0,
                         progress=False)
        seen = []
        for _ in range(3):
            step(lambda: torch.nn.functional.mse_loss(model(x), y))
            seen.append(step.optimizer.param_groups[0]["lr"])
        rates[str(schedule)[:8]] = seen
    assert list(rates.values()) == [[0.75, 0.5, 0.25], [0.25, 0.125, 0.0625], [1.0, 1.0, 1.0]]


def test_progress_shows_the_loss_and_counts_steps():
    from headstart.progress import Progress

    class Recording(Progress):
        def __init__(self):
            self.postfixes, self.n, self.closed = [], 0, False

        def set_postfix(self, **values):
            self.postfixes.append(values)

        def update(self, n=1):
            self.n += n

        def close(self):
            self.closed = True

    model, x, y = _tiny()
    step = TrainStep(model.parameters(), lr=1e-3, total_steps=2, progress=False)
    step.bar = Recording()
    values = [step(lambda: torch.nn.functional.mse_loss(model(x), y)) for _ in range(2)]
    step.close()
    assert step.bar.postfixes == [{"loss": v} for v in values] and step.bar.n == 2 and step.bar.closed
