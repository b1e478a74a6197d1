"""All of `params.yaml`, and what follows from it alone: the trunks to pretrain and at which size."""

from __future__ import annotations

from ferflow.config.data import DataParams
from ferflow.config.dicefer import DiceFerParams
from ferflow.config.ifdd import IFDDParams
from ferflow.config.pretrain import PretrainParams
from ferflow.config.section import Section
from ferflow.config.study import StudyParams
from ferflow.config.synthetic import SyntheticParams
from ferflow.config.trunks import TrunkSpec, variant_family


class Params(Section):
    """All of `params.yaml`."""

    synthetic: SyntheticParams = SyntheticParams()
    data: DataParams = DataParams()
    pretrain: PretrainParams = PretrainParams()
    ifdd: IFDDParams = IFDDParams()
    dicefer: DiceFerParams = DiceFerParams()
    study: StudyParams = StudyParams()


def trunk_spec(params: Params, trunk: str) -> TrunkSpec:
    """The trunk as the `dicefer` (ResNet-18) or `ifdd` (MobileNetV2) section builds it."""
    if trunk == "resnet18":
        return TrunkSpec("resnet18", params.dicefer.img_size)
    if trunk == "mobilenetv2":
        return TrunkSpec("mobilenetv2", params.ifdd.img_size, float(params.ifdd.model.get("width_mult", 1.0)))
    raise ValueError(f"unknown trunk {trunk!r}; known: resnet18 (DICE-FER), mobilenetv2 (IFDD)")


def faceid_trunks(params: Params) -> list[str]:
    """The trunks the pretraining stage must produce: those an `init: faceid` starts."""
    trunks = {variant_family(v) for v in params.ifdd.variants if params.ifdd.init_for(v) == "faceid"}
    if params.dicefer.init == "faceid":
        trunks.add("resnet18")
    return sorted(trunks)
