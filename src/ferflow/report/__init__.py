"""The run report: `report.html` (self-contained) and `report.pdf` from one Jinja2 template.

`build_report(root, out_dir, params)` reads the pipeline's result files under the project folder `root` and
writes the report and its figures (`figures/*.png`) to `out_dir`; see `ferflow.report.build`.
"""

from ferflow.report.build import build_report
from ferflow.report.gallery import FIGURES

__all__ = ["FIGURES", "build_report"]
