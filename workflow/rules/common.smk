# Helpers shared by every rule file.
import sys
from pathlib import Path

from ferflow import paths

# Run the CLI with the interpreter that runs Snakemake, so rules work without an activated environment.
FERFLOW = f"{sys.executable} -m ferflow"
PACKAGE = Path(workflow.basedir) / "src" / "ferflow"


def package_sources(*parts):
    """Python sources under src/ferflow that a rule's output depends on (Snakemake can't see imports)."""
    files = []
    for part in parts:
        path = PACKAGE / part
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return [str(f) for f in files]


def params_json(*sections):
    """The validated parameter sections a rule uses, as JSON for `--params-json`."""
    return PARAMS.model_dump_json(include=set(sections))
