"""The parameter schema: every knob of `params.yaml`, grouped by stage, validated once on load.

Snakemake (at parse time) and the command line both load parameters through `load_params`, so a typo or an
impossible value fails before any work, naming the key's full path and what was expected.

The schema's defaults are the repository's `params.yaml`, value for value (tests/test_config.py holds them
equal): a key left out of a parameter file takes the value the shipped file shows, never another one. The
paper's values, where the CPU demo's differ, are in the comments of the sections' modules and in
`params.yaml`, and in `recipes/`.

The schema is one module per section (`synthetic`, `data`, `pretrain`, `ifdd`, `dicefer`, `study`), the
pieces they share (`section`, `runtime`, `trunks`), `params` (all of it) and `load` (reading and
validating); this package names the public ones, so importers write `from ferflow.config import Params`.
"""

from __future__ import annotations

from ferflow.config.data import DataParams, DatasetParams, ImageDatasetParams, VideoDatasetParams
from ferflow.config.dicefer import DiceFerParams
from ferflow.config.ifdd import (
    SECTION_MODEL_ARGUMENTS,
    VARIANT_SETTING_KEYS,
    AugmentParams,
    IFDDParams,
    MixupParams,
    PerVariant,
    TrainParams,
)
from ferflow.config.load import (
    DEFAULT_PARAMS,
    STUDY_OWNS,
    ParamsError,
    load_params,
    read_params_file,
    validate_params,
)
from ferflow.config.params import Params, faceid_trunks, trunk_spec
from ferflow.config.pretrain import (
    FaceIdDatasetParams,
    PretrainOptimParams,
    PretrainParams,
    VerificationDatasetParams,
)
from ferflow.config.runtime import OptimParams, RuntimeParams, check_device
from ferflow.config.section import Fraction, FrameRange, IntensityRange, Section
from ferflow.config.study import (
    CHANCE,
    BootstrapParams,
    ImageModel,
    Name,
    StudyDiceFerParams,
    StudyIFDDParams,
    StudyParams,
    merge_overrides,
)
from ferflow.config.synthetic import SyntheticParams
from ferflow.config.trunks import INIT_CHOICES, INIT_NAMES, TrunkSpec, check_init, variant_family

__all__ = [
    "CHANCE",
    "DEFAULT_PARAMS",
    "INIT_CHOICES",
    "INIT_NAMES",
    "SECTION_MODEL_ARGUMENTS",
    "STUDY_OWNS",
    "VARIANT_SETTING_KEYS",
    "AugmentParams",
    "BootstrapParams",
    "DataParams",
    "DatasetParams",
    "DiceFerParams",
    "FaceIdDatasetParams",
    "Fraction",
    "FrameRange",
    "IFDDParams",
    "ImageDatasetParams",
    "ImageModel",
    "IntensityRange",
    "MixupParams",
    "Name",
    "OptimParams",
    "Params",
    "ParamsError",
    "PerVariant",
    "PretrainOptimParams",
    "PretrainParams",
    "RuntimeParams",
    "Section",
    "StudyDiceFerParams",
    "StudyIFDDParams",
    "StudyParams",
    "SyntheticParams",
    "TrainParams",
    "TrunkSpec",
    "VerificationDatasetParams",
    "VideoDatasetParams",
    "check_device",
    "check_init",
    "faceid_trunks",
    "load_params",
    "merge_overrides",
    "read_params_file",
    "trunk_spec",
    "validate_params",
    "variant_family",
]
