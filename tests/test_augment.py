"""Clip augmentation on the device (`ClipAugment.on_batch`) against the loader's torchvision transform
(`ClipAugment.build`): the same operations for given parameters, and parameters from the same
distributions (two-sample tests over many draws, run on the CPU device; no wall-clock anywhere)."""

import numpy as np
import pytest
import torch
from scipy.stats import fisher_exact, ks_2samp
from test_train_ifdd import _with, params, store  # noqa: F401 (store: a fixture)
from torchvision import tv_tensors
from torchvision.transforms import v2

from ferflow.data import datasets
from ferflow.data.datasets import ClipAugment, ClipDataset, color_jitter
from ferflow.train import ifdd as trainer

SIZE = 32  # frames of SIZE x SIZE, crops resized back to SIZE (the device path's loader already resized)
DRAWS = 2000
SAME = 1e-3  # "no difference" above this p-value (8 statistics: a correct path fails 1 seed in ~100)
DIFFERENT = 1e-4  # a deliberately different distribution must be found below this one


def _cpu_draws(augment: ClipAugment, clip: torch.Tensor, n: int) -> torch.Tensor:
    """`n` outputs of the loader's transform on one C x T x H x W clip, as ClipDataset applies it."""
    transform = augment.build(SIZE)
    video = tv_tensors.Video(clip.permute(1, 0, 2, 3))
    return torch.stack([transform(video).permute(1, 0, 2, 3) for _ in range(n)])


def _device_draws(augment: ClipAugment, clip: torch.Tensor, n: int) -> torch.Tensor:
    return augment.on_batch(clip.expand(n, *clip.shape).contiguous())


def _ramp_clip() -> torch.Tensor:
    """Two identical frames whose red channel is the column and green the row (0..1), so that the box and
    the flip can be read back from any output."""
    ramp = torch.linspace(0, 1, SIZE)
    frame = torch.stack(
        [ramp.expand(SIZE, SIZE), ramp[:, None].expand(SIZE, SIZE), torch.full((SIZE, SIZE), 0.5)]
    )
    return torch.stack([frame, frame], 1)


def _geometry(out: torch.Tensor) -> dict[str, np.ndarray]:
    """Area share, log aspect, centre and flip of each output's crop box, from a line fitted to the ramps
    away from the edges (bilinear resampling of a ramp is exact there)."""
    u = torch.arange(2, SIZE - 2, dtype=torch.float64)
    stats = {}
    for name, channel, reduce in (("x", 0, 1), ("y", 1, 2)):  # average over rows, over columns
        profile = out[:, channel, 0].double().mean(reduce)[:, 2 : SIZE - 2]  # N x interior
        slope = ((u - u.mean()) * (profile - profile.mean(1, keepdim=True))).sum(1) / (
            (u - u.mean()) ** 2
        ).sum()
        middle = profile.mean(1) + slope * ((SIZE - 1) / 2 - u.mean())
        stats[f"extent_{name}"] = (slope.abs() * (SIZE - 1) * SIZE).round()  # box width / height in pixels
        # The box's centre lies on a half-pixel grid: rounded to it, float noise cannot split ties.
        stats[f"centre_{name}"] = ((middle * (SIZE - 1) + 0.5) * 2).round() / (2 * SIZE)
        stats[f"sign_{name}"] = slope.sign()
    w, h = stats["extent_x"], stats["extent_y"]
    return {
        "area": (w * h / SIZE**2).numpy(),
        "log_aspect": (w / h).log().numpy(),
        "centre_x": stats["centre_x"].numpy(),
        "centre_y": stats["centre_y"].numpy(),
        "flipped": (stats["sign_x"] < 0).numpy(),
    }


def _photometry(out: torch.Tensor) -> dict[str, np.ndarray]:
    grey = (out * torch.tensor(datasets.LUMA).view(1, 3, 1, 1, 1)).sum(1)
    return {
        "mean_grey": grey.mean((1, 2, 3)).numpy(),
        "grey_std": grey.std((1, 2, 3)).numpy(),
        "saturation": (out.amax(1) - out.amin(1)).mean((1, 2, 3)).numpy(),
    }


def _compare(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict[str, float]:
    """p-values: Kolmogorov-Smirnov for continuous statistics, Fisher's exact test for the flip rate."""
    p = {}
    for key in a:
        if a[key].dtype == bool:
            table = [[a[key].sum(), (~a[key]).sum()], [b[key].sum(), (~b[key]).sum()]]
            p[key] = float(fisher_exact(table).pvalue)
        else:
            p[key] = float(ks_2samp(a[key], b[key]).pvalue)
    return p


@pytest.mark.parametrize("flip", [0.0, 1.0])
def test_on_batch_resamples_as_resized_crop_and_flip(monkeypatch, flip):
    boxes = torch.tensor([[3.0, 5.0, 20.0, 30.0], [0.0, 0.0, 40.0, 40.0], [10.0, 2.0, 27.0, 21.0]])
    monkeypatch.setattr(datasets, "_crop_boxes", lambda n, h, w, scale: boxes)
    clips = torch.rand(3, 3, 2, 40, 40, generator=torch.Generator().manual_seed(0))
    out = ClipAugment(flip=flip, jitter=0.0).on_batch(clips)
    for k, (top, left, height, width) in enumerate(boxes.int().tolist()):
        frames = clips[k].permute(1, 0, 2, 3)
        expected = v2.functional.resized_crop(frames, top, left, height, width, [40, 40], antialias=True)
        if flip:
            expected = v2.functional.horizontal_flip(expected)
        torch.testing.assert_close(out[k], expected.permute(1, 0, 2, 3), atol=1e-5, rtol=0)


def test_color_jitter_matches_torchvision_in_every_order():
    x = torch.rand(6, 3, 2, 16, 16, generator=torch.Generator().manual_seed(1))
    factors = torch.tensor([[0.6, 1.4, 0.0], [1.3, 0.7, 1.4], [0.9, 1.1, 0.6]] * 2)
    orders = torch.tensor([[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]])
    out = color_jitter(x, factors, orders)
    adjust = [v2.functional.adjust_brightness, v2.functional.adjust_contrast, v2.functional.adjust_saturation]
    for k in range(len(x)):
        expected = x[k].permute(1, 0, 2, 3)  # frames: contrast's mean grey is per frame, as here
        for op in orders[k].tolist():
            expected = adjust[op](expected, factors[k, op].item())
        torch.testing.assert_close(out[k], expected.permute(1, 0, 2, 3), atol=1e-6, rtol=0)


def test_uint8_clips_are_scaled_and_frames_share_one_draw():
    clip = (_ramp_clip() * 255).round().to(torch.uint8)
    out = ClipAugment().on_batch(clip.expand(8, *clip.shape).contiguous())
    assert out.dtype == torch.float32 and out.shape == (8, 3, 2, SIZE, SIZE)
    assert out.min() >= 0.0 and out.max() <= 1.0
    torch.testing.assert_close(out[:, :, 0], out[:, :, 1])  # one draw per clip, all its frames alike
    assert not torch.allclose(out[0], out[1])  # clips draw apart


@pytest.mark.parametrize(
    ("device_scale", "same"), [((0.5, 1.0), True), ((0.6, 1.0), False)], ids=["same", "other-scale"]
)
def test_crop_and_flip_draw_from_the_loaders_distributions(device_scale, same):
    clip = _ramp_clip()
    torch.manual_seed(0)
    cpu = _geometry(_cpu_draws(ClipAugment(scale=(0.5, 1.0), flip=0.5, jitter=0.0), clip, DRAWS))
    dev = _geometry(_device_draws(ClipAugment(scale=device_scale, flip=0.5, jitter=0.0), clip, DRAWS))
    assert cpu["area"].min() >= 0.45 and cpu["area"].max() <= 1.0  # the read-back boxes are sound
    p = _compare(cpu, dev)
    if same:
        assert all(v > SAME for v in p.values()), p
        assert 0.45 < dev["flipped"].mean() < 0.55
    else:
        assert p["area"] < DIFFERENT, p  # the test can tell a wrong crop distribution


@pytest.mark.parametrize(("device_jitter", "same"), [(0.4, True), (0.3, False)], ids=["same", "other-jitter"])
def test_colour_jitter_draws_from_the_loaders_distributions(device_jitter, same):
    base = torch.rand(1, 3, 1, 4, 4, generator=torch.Generator().manual_seed(2)) * 0.8 + 0.1
    clip = torch.nn.functional.interpolate(base, size=(2, SIZE, SIZE), mode="trilinear")[0]
    torch.manual_seed(0)
    cpu = _photometry(_cpu_draws(ClipAugment(scale=(1.0, 1.0), flip=0.0, jitter=0.4), clip, DRAWS))
    dev = _photometry(
        _device_draws(ClipAugment(scale=(1.0, 1.0), flip=0.0, jitter=device_jitter), clip, DRAWS)
    )
    p = _compare(cpu, dev)
    if same:
        assert all(v > SAME for v in p.values()), p
    else:
        assert min(p.values()) < DIFFERENT, p


def test_deferred_dataset_only_resizes(tmp_path):
    from ferflow.data.store import INDEX_COLUMNS, write_store

    clips = np.random.default_rng(0).integers(0, 256, (2, 4, 24, 24, 3), dtype=np.uint8)
    rows = [dict.fromkeys(INDEX_COLUMNS, "") | {"sample_id": str(i), "label": "0"} for i in range(2)]
    write_store(tmp_path / "s", [(clips, rows)], {"classes": ["a"]})
    deferred = ClipDataset(tmp_path / "s", np.arange(2), 4, 24, augment=ClipAugment(), deferred=True)
    x, _ = deferred[0]
    assert deferred.train and x.dtype == torch.uint8 and x.shape == (3, 4, 24, 24)
    assert torch.equal(x, torch.from_numpy(clips[0]).permute(3, 0, 1, 2))  # same size: untouched


def test_training_augments_on_the_device(store, tmp_path, monkeypatch, capsys):  # noqa: F811
    seen = []
    real = ClipAugment.on_batch

    def spy(self, clips):
        seen.append((clips.dtype, clips.device.type))
        return real(self, clips)

    monkeypatch.setattr(ClipAugment, "on_batch", spy)
    augment = {"scale": [0.5, 1.0], "flip": 0.5, "jitter": 0.4}
    on_device = _with(params(epochs=1), augment=augment | {"where": "device"})
    result = trainer.train_ifdd(on_device, store, "ifdd_mobilenetv2", 1, tmp_path / "run")
    assert np.isfinite(result["train/loss"])
    assert seen == [(torch.uint8, "cpu")] * 3  # every training batch (18 clips, 6 a batch), as read

    # Where the augmentation runs is part of the resume key: the two draw different streams.
    capsys.readouterr()
    in_loader = _with(params(epochs=1), augment=augment | {"where": "loader"})
    trainer.train_ifdd(in_loader, store, "ifdd_mobilenetv2", 1, tmp_path / "run")
    assert "starting afresh" in capsys.readouterr().out
    assert len(seen) == 3
