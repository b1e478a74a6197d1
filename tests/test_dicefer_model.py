"""DICE-FER model parts, losses and stage freezing; the ResNet-18 baseline; the registry."""

import pytest
import torch
import torchvision

from ferflow.models import create_model, list_models
from ferflow.models.dicefer import Classifier, DiceFer
from ferflow.models.losses import adversarial_loss, discriminator_loss, expression_loss, identity_mi_loss
from ferflow.models.resnet18 import ResNet18Classifier

B = 4
SMALL = {"stat_hidden": (32, 32), "disc_hidden": (32, 32)}  # light heads where only wiring is tested


@pytest.fixture(scope="module")
def model() -> DiceFer:
    torch.manual_seed(0)
    return create_model("dicefer_resnet18")  # default sizes: the shapes below are the real ones


@pytest.fixture(scope="module")
def images() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return torch.randn(B, 1, 112, 112, generator=gen), torch.randn(B, 1, 112, 112, generator=gen)


def _grad_norm(module: torch.nn.Module) -> float:
    return sum(float(p.grad.abs().sum()) for p in module.parameters() if p.grad is not None)


def test_registry_builds_both_models() -> None:
    assert {"dicefer_resnet18", "resnet18_classifier"} <= set(list_models())
    baseline = create_model("resnet18_classifier", num_classes=5)
    assert isinstance(baseline, ResNet18Classifier)
    x = torch.randn(2, 1, 112, 112)
    with torch.no_grad():
        emb = baseline.forward_features(x)
        assert emb.shape == (2, 512)
        assert baseline.forward_head(emb).shape == (2, 5)
        assert torch.equal(baseline(x), baseline.forward_head(emb))


@torch.no_grad()
def test_shapes_of_every_part(model: DiceFer, images: tuple[torch.Tensor, torch.Tensor]) -> None:
    model.eval()
    x, _ = images
    for encoder in (model.expression_encoder, model.identity_encoder):
        fmap, code = encoder(x)
        assert fmap.shape == (B, 512, 4, 4)
        assert code.shape == (B, 64)
    e, i = model.encode(x)
    assert e.shape == i.shape == (B, 64)
    fmap = model.expression_encoder.forward_features(x)
    t = torch.cat([e, i], dim=1)
    for key in ("global_mn", "global_nm"):
        assert model.exp_stats[key](fmap, e).shape == (B,)
    for key in ("local_mn", "local_nm"):
        assert model.exp_stats[key](fmap, e).shape == (B, 4, 4)
    assert model.id_stats["global"](fmap, t).shape == (B,)
    assert model.id_stats["local"](fmap, t).shape == (B, 4, 4)
    assert model.discriminator(e, i).shape == (B,)
    assert model.classifier(e).shape == (B, 7)
    logits = model(x)
    assert logits.shape == (B, 7)
    assert torch.allclose(logits, model.forward_head(model.forward_features(x)))


@torch.no_grad()
def test_grey_input_equals_replicated_rgb(model: DiceFer, images: tuple[torch.Tensor, torch.Tensor]) -> None:
    model.eval()
    x, _ = images
    grey = model.expression_encoder(x)[1]
    rgb = model.expression_encoder(x.repeat(1, 3, 1, 1))[1]
    assert torch.allclose(grey, rgb)
    with pytest.raises(ValueError, match="1 or 3"):
        model.expression_encoder(torch.randn(1, 2, 112, 112))


def test_expression_loss_finite_with_gradients_into_stage1_parts() -> None:
    torch.manual_seed(1)
    model = DiceFer(**SMALL)
    model.set_stage(1)
    model.train()
    x_m, x_n = torch.randn(B, 1, 112, 112), torch.randn(B, 1, 112, 112)
    map_m, e_m = model.expression_encoder(x_m)
    map_n, e_n = model.expression_encoder(x_n)
    out = expression_loss(model.exp_stats, map_m, e_m, map_n, e_n, generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(out.loss)
    t = out.terms
    expected = -(0.5 * t["mi_global"] + 1.0 * t["mi_local"]) + 0.1 * t["l1"]
    assert out.loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert t["l1"].item() == pytest.approx((e_m - e_n).abs().sum(1).mean().item(), rel=1e-5)
    out.loss.backward()
    assert _grad_norm(model.expression_encoder) > 0
    for key in ("global_mn", "local_mn", "global_nm", "local_nm"):
        assert _grad_norm(model.exp_stats[key]) > 0, key
    assert _grad_norm(model.identity_encoder) == 0
    jsd = expression_loss(
        model.exp_stats, map_m, e_m, map_n, e_n, estimator="jsd", marginal="roll", l1_reduction="mean"
    )
    assert torch.isfinite(jsd.loss)
    assert jsd.terms["l1"].item() == pytest.approx((e_m - e_n).abs().mean().item(), rel=1e-5)


def test_stage2_losses_route_gradients() -> None:
    torch.manual_seed(2)
    model = DiceFer(**SMALL)
    model.set_stage(2)
    model.train()
    x = torch.randn(B, 1, 112, 112)
    e = model.expression_encoder(x)[1]
    map_i, i = model.identity_encoder(x)
    assert not e.requires_grad  # frozen expression encoder: no graph at all

    mi = identity_mi_loss(model.id_stats, map_i, e, i)
    assert torch.isfinite(mi.loss)
    mi.loss.backward(retain_graph=True)  # I is reused below
    assert _grad_norm(model.identity_encoder) > 0 and _grad_norm(model.id_stats) > 0
    model.zero_grad(set_to_none=True)

    d = discriminator_loss(model.discriminator, e, i)
    assert torch.isfinite(d.loss) and 0 <= d.terms["accuracy"].item() <= 1
    d.loss.backward()
    assert _grad_norm(model.discriminator) > 0
    assert _grad_norm(model.identity_encoder) == 0  # D's loss never trains the encoder
    model.zero_grad(set_to_none=True)

    adv = adversarial_loss(model.discriminator, e, i, zeta=0.025)
    assert torch.isfinite(adv.loss)
    assert adv.loss.item() == pytest.approx(0.025 * adv.terms["fool"].item(), rel=1e-5)
    adv.loss.backward()
    assert _grad_norm(model.identity_encoder) > 0
    minimax = adversarial_loss(model.discriminator, e, i, mode="minimax", marginal="roll")
    flip = adversarial_loss(model.discriminator, e, i, mode="flip", marginal="roll")
    assert minimax.loss.item() < 0 < flip.loss.item()


def test_stage2_step_leaves_expression_encoder_unchanged() -> None:
    torch.manual_seed(3)
    model = DiceFer(**SMALL)
    model.set_stage(2)
    model.train()  # frozen parts must stay in eval mode (BatchNorm running statistics untouched)
    assert not model.expression_encoder.training and model.identity_encoder.training
    assert model.frozen == {"expression_encoder", "exp_stats", "classifier"}
    assert not any(p.requires_grad for p in model.expression_encoder.parameters())

    before_exp = {k: v.clone() for k, v in model.expression_encoder.state_dict().items()}
    before_id = {k: v.clone() for k, v in model.identity_encoder.state_dict().items()}
    groups = model.optimizer_groups(2)
    assert set(groups) == {"encoder", "statistics", "discriminator"}
    opts = {name: torch.optim.Adam(params, lr=1e-3) for name, params in groups.items()}

    x = torch.randn(B, 1, 112, 112)
    e = model.expression_encoder(x)[1]
    map_i, i = model.identity_encoder(x)
    d = discriminator_loss(model.discriminator, e, i)
    opts["discriminator"].zero_grad()
    d.loss.backward()
    opts["discriminator"].step()
    enc = (
        identity_mi_loss(model.id_stats, map_i, e, i).loss + adversarial_loss(model.discriminator, e, i).loss
    )
    opts["encoder"].zero_grad()
    opts["statistics"].zero_grad()
    enc.backward()
    opts["encoder"].step()
    opts["statistics"].step()

    after_exp = model.expression_encoder.state_dict()
    assert all(torch.equal(before_exp[k], after_exp[k]) for k in before_exp)
    after_id = model.identity_encoder.state_dict()
    assert any(not torch.equal(before_id[k], after_id[k]) for k in before_id)  # the step did something


def test_stage_switching() -> None:
    model = DiceFer(**SMALL)
    model.set_stage(3)
    assert model.frozen == set(DiceFer.PARTS) - {"classifier"}
    assert set(model.optimizer_groups(3)) == {"classifier"}
    model.set_stage(1)
    model.train()
    assert model.expression_encoder.training
    assert all(p.requires_grad for p in model.expression_encoder.parameters())
    assert not any(p.requires_grad for p in model.classifier.parameters())
    with pytest.raises(ValueError, match="stage"):
        model.set_stage(4)
    with pytest.raises(ValueError, match="unknown"):
        model.freeze("decoder")


def test_local_weights_load_and_bad_files_are_named(tmp_path) -> None:
    torch.manual_seed(4)
    reference = torchvision.models.resnet18(weights=None)
    good = tmp_path / "casia_resnet18.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in reference.state_dict().items()}}, good)
    model = create_model("dicefer_resnet18", expression_weights=good, **SMALL)
    loaded = model.expression_encoder.trunk.state_dict()
    assert torch.equal(loaded["layer4.1.conv2.weight"], reference.state_dict()["layer4.1.conv2.weight"])
    assert not torch.equal(
        model.identity_encoder.trunk.state_dict()["conv1.weight"], reference.state_dict()["conv1.weight"]
    )
    baseline = create_model("resnet18_classifier", weights=good)
    assert torch.equal(baseline.trunk.state_dict()["conv1.weight"], reference.state_dict()["conv1.weight"])

    missing = tmp_path / "nope.pth"
    with pytest.raises(FileNotFoundError, match=r"nope\.pth"):
        create_model("resnet18_classifier", weights=missing)
    partial = tmp_path / "partial.pth"
    torch.save({k: v for k, v in reference.state_dict().items() if not k.startswith("layer4")}, partial)
    with pytest.raises(ValueError, match=r"partial\.pth.*missing"):
        create_model("resnet18_classifier", weights=partial)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match=r"garbage\.pth"):
        create_model("resnet18_classifier", weights=garbage)


def test_classifier_input_norm_makes_it_scale_invariant():
    torch.manual_seed(0)
    e = torch.randn(16, 8)
    plain = Classifier(8, 3, (16,), input_norm=False).train()
    normed = Classifier(8, 3, (16,), input_norm=True).train()
    torch.testing.assert_close(normed(e * 0.05), normed(e), rtol=1e-2, atol=1e-2)  # var 2.5e-3 >> eps
    assert not torch.allclose(plain(e * 0.05), plain(e), atol=1e-2)
