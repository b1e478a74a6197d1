"""MI estimators: closed-form Gaussian MI recovered by DV, numerical stability, estimator formulas."""

import math

import pytest
import torch

from ferflow.models.mine import (
    GlobalStatNet,
    LocalStatNet,
    MLPStatNet,
    dv_bound,
    jsd_bound,
    local_mi,
    log_mean_exp,
    marginal_index,
    mi_lower_bound,
    pair_mi,
)

GAUSS_TOLERANCE_NATS = 0.05


def _gaussian_pairs(rho: float, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.randn(n, 1, generator=generator)
    y = rho * x + math.sqrt(1 - rho**2) * torch.randn(n, 1, generator=generator)
    return x, y


@pytest.fixture
def one_thread():
    """Tiny networks run fastest, and least disturbed by other jobs on shared cores, on one thread."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _train_stat_net(
    rho: float, estimator: str, steps: int = 800, seed: int = 0
) -> tuple[MLPStatNet, torch.Generator]:
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    net = MLPStatNet(1, 1, hidden=(64, 64))
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    for _ in range(steps):
        x, y = _gaussian_pairs(rho, 512, gen)
        loss = -pair_mi(net, x, y, estimator=estimator, generator=gen)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net, gen


@pytest.mark.parametrize("rho", [0.5, 0.8, 0.95])
@pytest.mark.usefixtures("one_thread")
def test_dv_recovers_gaussian_mi(rho: float) -> None:
    net, gen = _train_stat_net(rho, "dv")
    with torch.no_grad():
        x, y = _gaussian_pairs(rho, 50_000, gen)
        _, y_independent = _gaussian_pairs(rho, 50_000, gen)
        estimate = dv_bound(net(x, y), net(x, y_independent)).item()
    truth = -0.5 * math.log(1 - rho**2)
    print(f"rho={rho}: DV estimate {estimate:.4f} nats, closed form {truth:.4f}")
    assert abs(estimate - truth) < GAUSS_TOLERANCE_NATS, f"rho={rho}: DV {estimate:.4f} vs true {truth:.4f}"


@pytest.mark.usefixtures("one_thread")
def test_jsd_training_separates_dependent_from_independent() -> None:
    scores = {}
    for rho in (0.0, 0.9):
        net, gen = _train_stat_net(rho, "jsd", steps=300)
        with torch.no_grad():
            x, y = _gaussian_pairs(rho, 20_000, gen)
            _, y_ind = _gaussian_pairs(rho, 20_000, gen)
            scores[rho] = jsd_bound(net(x, y), net(x, y_ind)).item()
    # JSD estimate: -2 log 2 at chance (U = 0 gives -log 2 per term), higher with dependence.
    assert scores[0.9] > scores[0.0] + 0.3
    assert abs(scores[0.0] + 2 * math.log(2)) < 0.05


def test_log_mean_exp_is_finite_where_naive_formula_overflows() -> None:
    scores = torch.tensor([1000.0, 2000.0, 3000.0], requires_grad=True)
    naive = torch.log(torch.exp(scores).mean())
    assert not torch.isfinite(naive)
    stable = log_mean_exp(scores)
    expected = 3000.0 + math.log(1 + math.exp(-1000) + math.exp(-2000)) - math.log(3)
    assert torch.isfinite(stable)
    assert stable.item() == pytest.approx(expected, rel=1e-6)
    stable.backward()
    assert torch.isfinite(scores.grad).all()
    assert scores.grad.sum().item() == pytest.approx(1.0)
    joint = torch.full((8,), 5000.0)
    assert torch.isfinite(dv_bound(joint, joint)) and dv_bound(joint, joint).item() == pytest.approx(0.0)


def test_estimator_formulas_match_hand_computation() -> None:
    gen = torch.Generator().manual_seed(3)
    joint = torch.randn(16, generator=gen, dtype=torch.float64)
    marg = torch.randn(16, generator=gen, dtype=torch.float64)
    dv = joint.mean() - torch.log(torch.exp(marg).mean())
    jsd = torch.log(torch.sigmoid(joint)).mean() - torch.log1p(torch.exp(marg)).mean()
    assert mi_lower_bound(joint, marg, "dv").item() == pytest.approx(dv.item(), abs=1e-12)
    assert mi_lower_bound(joint, marg, "jsd").item() == pytest.approx(jsd.item(), abs=1e-12)
    with pytest.raises(ValueError, match="mi_estimator"):
        mi_lower_bound(joint, marg, "nwj")  # type: ignore[arg-type]


def test_marginal_index_modes() -> None:
    roll = marginal_index(5, "roll")
    assert sorted(roll.tolist()) == list(range(5))
    assert (roll != torch.arange(5)).all()
    a = marginal_index(32, "shuffle", generator=torch.Generator().manual_seed(1))
    b = marginal_index(32, "shuffle", generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and sorted(a.tolist()) == list(range(32))
    with pytest.raises(ValueError, match="marginal"):
        marginal_index(4, "swap")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least 2"):
        marginal_index(1)


def test_statistics_network_shapes_and_local_average() -> None:
    gen = torch.Generator().manual_seed(0)
    fmap = torch.randn(4, 8, 3, 3, generator=gen)
    code = torch.randn(4, 5, generator=gen)
    g_flat = GlobalStatNet(8, 3, 5, hidden=(16,), pool="flatten")
    g_avg = GlobalStatNet(8, 3, 5, hidden=(16,), pool="avg")
    local = LocalStatNet(8, 5, hidden=(16,))
    assert g_flat(fmap, code).shape == (4,)
    assert g_avg(fmap, code).shape == (4,)
    assert local(fmap, code).shape == (4, 3, 3)
    with pytest.raises(ValueError, match="3x3"):
        g_flat(torch.randn(4, 8, 2, 2), code)
    # local MI = mean over locations of per-location DV over the batch (roll: deterministic marginal)
    with torch.no_grad():
        joint = local(fmap, code).flatten(1)
        marg = local(fmap, code[torch.roll(torch.arange(4), 1)]).flatten(1)
        per_location = [dv_bound(joint[:, k], marg[:, k]) for k in range(9)]
        expected = torch.stack(per_location).mean()
        got = local_mi(local, fmap, code, marginal="roll")
    assert got.item() == pytest.approx(expected.item(), abs=1e-6)
