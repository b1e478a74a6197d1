"""Train DICE-FER (three stages) or its plain ResNet-18 baseline on the train split of an image store.

DICE-FER (``shared/spec/dicefer.md``, ``docs/dicefer.md``):

1. *expression*: the expression encoder and its statistics networks maximise the cross-referenced MI of
   same-expression pairs (M, N) from `PairDataset` (`expression_loss`);
2. *identity*: the expression encoder frozen, the identity encoder and its statistics networks maximise the
   MI between M and [E_M, I_M] (`identity_mi_loss`) while the discriminator learns to tell joint (E, I)
   from I shuffled (`discriminator_loss`) and the identity encoder learns to fool it (`adversarial_loss`);
3. *classifier*: cross-entropy on the frozen E of single augmented images (`ImageDataset(train=True)`).

Every stage has its own Adam optimisers (one per `DiceFer.optimizer_groups` entry), fixed learning rate.
The baseline is one stage, *baseline*: `resnet18_classifier`, cross-entropy, Adam, on the same images,
augmentation and seed. The image controls (`ferflow.models.controls_image`) train the same way
(`train_baseline` with their name), from random weights, for `control_epochs` at `control_lr` (cosine);
`control_image_reference`'s images carry the person's mean training face as a second channel. All run
through the same loop (`ferflow.train.stages.run_stages`): it resumes from a checkpoint, also in the
middle of a stage, and stops on a NaN or infinite loss naming the stage, epoch and step.

Outputs in the job folder: `checkpoint.pt`, `model.pt` (weights and how to rebuild the model: factory name,
its arguments, classes, input size), `history.json` (per stage and epoch: the mean of every loss term, MI
estimates, throughput) and `live/` (dvclive, metric names ``<stage>/<term>``, step = epoch over all stages).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from timm.scheduler import CosineLRScheduler
from torch import Tensor, nn
from torch.utils.data import DataLoader

from ferflow.config import DiceFerParams, RuntimeParams
from ferflow.core.checkpoint import save_checkpoint, source_fingerprint
from ferflow.core.runtime import Runtime, seed_everything, setup_single_device, teardown_runtime
from ferflow.data.datasets import ImageDataset, PairDataset
from ferflow.data.store import Store, StoreError, open_store
from ferflow.jobs import dicefer_key, torch_threads
from ferflow.model_names import IMAGE_CONTROLS
from ferflow.models import create_model, resolved_arguments
from ferflow.models.dicefer import DiceFer
from ferflow.models.losses import adversarial_loss, discriminator_loss, expression_loss, identity_mi_loss
from ferflow.models.pretrained import describe_init, init_state_dict
from ferflow.train.common import init_fingerprint, make_loader
from ferflow.train.stages import Stage, StepContext, run_stages

__all__ = [
    "BASELINE_MODEL",
    "DICEFER_MODEL",
    "baseline_stage",
    "dicefer_kwargs",
    "dicefer_stages",
    "train_baseline",
    "train_dicefer",
]

MODEL = "model.pt"
DICEFER_MODEL = "dicefer_resnet18"
BASELINE_MODEL = "resnet18_classifier"
TRUNK_FAMILY = "resnet18"
#: What a model file holds: DICE-FER, the ResNet-18 baseline or an image control (`variant` names which).
Kind = Literal["dicefer", "baseline", "control"]


# ----------------------------------------------------------------------------------------- set-up
def dicefer_kwargs(p: DiceFerParams, num_classes: int) -> dict[str, Any]:
    """Arguments of `dicefer_resnet18` that rebuild a trained model (no weight files: those only matter at
    initialisation)."""
    return {
        "num_classes": num_classes,
        "code_dim": p.code_dim,
        "input_size": p.img_size,
        "global_pool": p.global_pool,
        "cls_hidden": list(p.classifier_hidden),
        "cls_input_norm": p.classifier_input_norm,
    }


def _train_rows(store: Store, store_dir: Path) -> np.ndarray:
    if store.samples.ndim != 4:
        raise StoreError(
            f"{store_dir}: DICE-FER trains on an image store (N x S x S x 3), got shape "
            f"{store.samples.shape}; give data/processed/<dataset>/images"
        )
    rows = store.rows("train")
    if len(rows) < 2:
        raise StoreError(f"{store_dir}: the train split has {len(rows)} samples; at least 2 are needed")
    return rows


def _run_key(p: DiceFerParams, model: str, store: Store) -> str:
    """What must match for a checkpoint to be resumed: the values this model's result depends on, the data,
    the code and the weights its trunks start from (the controls start from random weights)."""
    key = {
        "params": dicefer_key(p, model),
        "kind": model,
        "store": store.meta.get("shape"),
        "code": source_fingerprint(),
        "init": None if model in IMAGE_CONTROLS else init_fingerprint(p.init, TRUNK_FAMILY),
    }
    return json.dumps(key, sort_keys=True)


def _start(rt: RuntimeParams) -> Runtime:
    runtime = setup_single_device(
        rt.device, rt.amp, "DICE-FER and its baseline train", "dicefer.runtime.gpus"
    )
    torch.set_num_threads(torch_threads(rt.threads))
    seed_everything(rt.seed)
    return runtime


def _write_model(
    out: Path,
    model: nn.Module,
    kind: Kind,
    variant: str,
    kwargs: dict[str, Any],
    store: Store,
    img_size: int,
    epochs: list[int],
) -> None:
    save_checkpoint(
        out / MODEL,
        {
            "model": model.state_dict(),
            "kind": kind,
            "variant": variant,
            "kwargs": resolved_arguments(variant, kwargs),
            "classes": list(store.classes),
            "img_size": img_size,
            "data": {"shape": store.meta["shape"], "align_backend": store.meta.get("align_backend")},
            "epochs": epochs,
        },
    )


def _summary(history: list[dict[str, Any]]) -> dict[str, Any]:
    """The last epoch's entry of every stage, by stage name."""
    return {entry["name"]: entry for entry in history}


# ---------------------------------------------------------------------------------------- DICE-FER
def delta_at(p: DiceFerParams, epoch: int) -> float:
    """The L1 weight in stage-1 epoch `epoch` (0-based): with a ramp of k = `delta_warmup_epochs`, 0 in the
    first epoch, rising by delta / k per epoch, `delta` from epoch k on; `delta` throughout when k = 0."""
    if p.delta_warmup_epochs == 0:
        return p.delta
    return p.delta * min(1.0, epoch / p.delta_warmup_epochs)


def dicefer_stages(
    model: DiceFer, p: DiceFerParams, pairs: DataLoader, images: DataLoader, runtime: Runtime
) -> list[Stage]:
    mi_opts = {"mu": p.mu, "nu": p.nu, "estimator": p.mi_estimator, "marginal": p.marginal}

    def prepare(number: int) -> Callable[[], None]:
        def set_stage() -> None:
            model.set_stage(number)
            model.train()

        return set_stage

    def expression(batch: Sequence[Tensor], ctx: StepContext) -> dict[str, Tensor]:
        x_m, x_n, _ = batch
        with runtime.autocast():
            # M and N go through the encoder as one batch (BatchNorm statistics over both).
            maps, codes = model.expression_encoder(torch.cat([x_m, x_n]))
            map_m, map_n = maps.chunk(2)
            e_m, e_n = codes.chunk(2)
            out = expression_loss(
                model.exp_stats,
                map_m,
                e_m,
                map_n,
                e_n,
                delta=delta_at(p, ctx.epoch),
                l1_reduction=p.l1_reduction,
                **mi_opts,
            )
        ctx.update(out.loss, "encoder", "statistics")
        return out.terms

    def identity(batch: Sequence[Tensor], ctx: StepContext) -> dict[str, Tensor]:
        x = batch[0]
        with runtime.autocast():
            e = model.expression_encoder(x)[1]  # frozen: no graph
            map_i, i = model.identity_encoder(x)
            disc = discriminator_loss(model.discriminator, e, i, marginal=p.marginal)
        ctx.update(disc.loss, "discriminator", what="discriminator loss")
        with runtime.autocast():
            mi = identity_mi_loss(model.id_stats, map_i, e, i, **mi_opts)
            adv = adversarial_loss(
                model.discriminator, e, i, zeta=p.zeta_adv, marginal=p.marginal, mode=p.adversarial
            )
            loss = mi.loss + adv.loss
        ctx.update(loss, "encoder", "statistics", what="identity-encoder loss")
        return {
            "loss": loss.detach(),
            "mi_global": mi.terms["mi_global"],
            "mi_local": mi.terms["mi_local"],
            "adversarial": adv.terms["loss"],
            "discriminator_loss": disc.terms["loss"],
            "discriminator_accuracy": disc.terms["accuracy"],
        }

    def classifier(batch: Sequence[Tensor], ctx: StepContext) -> dict[str, Tensor]:
        x, y = batch
        with runtime.autocast():
            logits = model.classifier(model.expression_encoder(x)[1]).float()
            loss = F.cross_entropy(logits, y)
        ctx.update(loss, "classifier")
        return {"loss": loss.detach(), "accuracy": (logits.argmax(1) == y).float().mean()}

    steps = {"expression": expression, "identity": identity, "classifier": classifier}
    return [
        Stage(
            name=name,
            label=f"DICE-FER stage {number} ({name})",
            epochs=p.stage_epochs[number - 1],
            loader=pairs if number == 1 else images,
            groups=model.optimizer_groups(number),
            step=steps[name],
            prepare=prepare(number),
            unit="pair" if number == 1 else "image",
        )
        for number, name in enumerate(steps, start=1)
    ]


def train_dicefer(p: DiceFerParams, store_dir: Path, out: Path) -> dict[str, Any]:
    """Train DICE-FER's three stages on the store's train split.

    Stage 1 reads same-expression pairs (`PairDataset`), stages 2 and 3 single images
    (`ImageDataset(train=True)`), all with the 14 rotation x flip variants, ``p.batch_size`` per batch.

    Args:
        p: The ``dicefer`` parameters (``stage_epochs``, losses' weights, ``lr``, runtime).
        store_dir: An image store (see `ferflow.data.store`).
        out: The job folder; a checkpoint already there for the same recipe and data is resumed.

    Returns:
        The last epoch's metrics of every stage that ran, by stage name (``expression``, ``identity``,
        ``classifier``).

    Raises:
        NonFiniteLossError: A loss became NaN or infinite (the last good checkpoint is kept).
        ValueError: The store holds clips, or too few training images.
        RuntimeError: Started as several processes (training uses one device).
    """
    runtime = _start(p.runtime)
    out = Path(out)
    try:
        store = open_store(store_dir)
        rows = _train_rows(store, Path(store_dir))
        workers = p.runtime.num_workers
        pairs = make_loader(PairDataset(store, rows, p.img_size), p.batch_size, True, runtime, workers)
        images = make_loader(
            ImageDataset(store, rows, p.img_size, train=True), p.batch_size, True, runtime, workers
        )
        kwargs = dicefer_kwargs(p, len(store.classes))
        weights = init_state_dict(p.init, TRUNK_FAMILY)
        print(f"DICE-FER: both encoders start from {describe_init(p.init, TRUNK_FAMILY)}")
        model = create_model(
            DICEFER_MODEL, **kwargs, expression_weights=weights, identity_weights=weights
        ).to(runtime.device)
        if p.runtime.compile:
            model.expression_encoder.compile()
            model.identity_encoder.compile()
        stages = dicefer_stages(model, p, pairs, images, runtime)
        history = run_stages(stages, model, p.lr, runtime, out, _run_key(p, "dicefer", store))
        _write_model(out, model, "dicefer", DICEFER_MODEL, kwargs, store, p.img_size, list(p.stage_epochs))
        return _summary(history)
    finally:
        teardown_runtime(runtime)


# ---------------------------------------------------------------------------- baseline and controls
def baseline_stage(
    model: nn.Module,
    images: DataLoader,
    runtime: Runtime,
    epochs: int,
    label: str = "baseline ResNet-18",
    cosine: bool = False,
) -> Stage:
    """One cross-entropy stage over the whole model for `epochs`, at a fixed learning rate or, with `cosine`,
    one that decays from the optimiser's to 0 by a cosine over the steps."""

    def schedule(optimizer: torch.optim.Optimizer, steps_per_epoch: int) -> CosineLRScheduler:
        return CosineLRScheduler(
            optimizer, t_initial=max(1, epochs * steps_per_epoch), lr_min=0.0, t_in_epochs=False
        )

    def step(batch: Sequence[Tensor], ctx: StepContext) -> dict[str, Tensor]:
        x, y = batch
        with runtime.autocast():
            logits = model(x).float()
            loss = F.cross_entropy(logits, y)
        ctx.update(loss, "model")
        return {"loss": loss.detach(), "accuracy": (logits.argmax(1) == y).float().mean()}

    return Stage(
        "baseline",
        label,
        epochs,
        images,
        {"model": list(model.parameters())},
        step,
        model.train,
        "image",
        schedule if cosine else None,
    )


def train_baseline(
    p: DiceFerParams, store_dir: Path, out: Path, model_name: str = "baseline"
) -> dict[str, Any]:
    """Train the plain ResNet-18 classifier DICE-FER is compared with, or an image control.

    The baseline: same train split, augmentation (`ImageDataset(train=True)`), batch size, seed and Adam
    learning rate as DICE-FER, for ``p.baseline_epochs``; the trunk starts from ``p.init`` (as both encoders
    do). An image control (`model_name` one of `IMAGE_CONTROLS`): the same split, augmentation, batch size
    and seed, from random weights, for ``p.control_epochs`` at ``p.control_lr`` (decaying by a cosine to 0
    with ``control_schedule: cosine``). Same outputs, resumption and NaN behaviour as `train_dicefer`.

    Args:
        p: The ``dicefer`` parameters.
        store_dir: An image store.
        out: The job folder.
        model_name: ``baseline`` or an image control.

    Returns:
        ``{"baseline": last epoch's metrics}`` (empty when the model's epochs are 0).

    Raises:
        StoreError: ``control_image_reference`` on a store whose images lack identities.
    """
    control = model_name in IMAGE_CONTROLS
    if not control and model_name != "baseline":
        raise ValueError(
            f"unknown model {model_name!r}; expected baseline or one of {', '.join(IMAGE_CONTROLS)}"
        )
    runtime = _start(p.runtime)
    out = Path(out)
    try:
        store = open_store(store_dir)
        rows = _train_rows(store, Path(store_dir))
        kwargs = {"num_classes": len(store.classes)}
        if control:
            model = create_model(model_name, **kwargs)
            print(f"{model_name}: random init")
        else:
            weights = init_state_dict(p.init, TRUNK_FAMILY)
            print(f"baseline: the trunk starts from {describe_init(p.init, TRUNK_FAMILY)}")
            model = create_model(BASELINE_MODEL, **kwargs, weights=weights)
        model = model.to(runtime.device)
        dataset = ImageDataset(
            store, rows, p.img_size, train=True, reference=getattr(model, "needs_reference", False)
        )
        images = make_loader(dataset, p.batch_size, True, runtime, p.runtime.num_workers)
        if p.runtime.compile:
            model.compile()

        epochs = p.control_epochs if control else p.baseline_epochs
        label = model_name if control else "baseline ResNet-18"
        cosine = control and p.control_schedule == "cosine"
        stage = baseline_stage(model, images, runtime, epochs, label, cosine)
        lr = p.control_lr if control else p.lr
        history = run_stages([stage], model, lr, runtime, out, _run_key(p, model_name, store))
        variant = model_name if control else BASELINE_MODEL
        kind: Kind = "control" if control else "baseline"
        _write_model(out, model, kind, variant, kwargs, store, p.img_size, [epochs])
        return _summary(history)
    finally:
        teardown_runtime(runtime)
