"""Build the run report: `report.html` (self-contained) and `report.pdf` (WeasyPrint) from one template.

`build_report` reads the pipeline's result files under the project folder (locations from `ferflow.paths` and
the parameters) section by section (`ferflow.report.sections`, one module each, drawing its figures with
`ferflow.report.figures`), renders `templates/report.html.j2` with autoescaping on, and writes, each
atomically (temporary name, then rename):

- ``report.html``: figures embedded as ``data:`` URIs; no external stylesheet, script, font or image;
- ``report.pdf``: the same HTML rendered by WeasyPrint with a URL fetcher that allows ``data:`` URIs only;
- ``figures/<name>.png``: every figure of `ferflow.report.gallery.FIGURES`, always (a small "not run"
  image when a section's inputs are absent), so that Snakemake can declare them as outputs for
  ``snakemake --report``.

A section whose inputs are missing says "not run" and why. Any other failure in a section (a file that exists
but cannot be read, a bug) shows as an error box in its place, the rest of the report is still written, and
then `build_report` raises: the failures, with their tracebacks, end the stage with a non-zero status.
Model selection on the test fold is labelled optimistic wherever shown.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ferflow import paths
from ferflow.config import Params, faceid_trunks
from ferflow.core.atomic import write_bytes
from ferflow.report.figures.placeholder import placeholder
from ferflow.report.formatting import num, pct
from ferflow.report.gallery import FIGURES, Gallery
from ferflow.report.literature import literature
from ferflow.report.reader import Reader
from ferflow.report.sections.bench import bench_section
from ferflow.report.sections.data import data_section
from ferflow.report.sections.dicefer import dicefer_section
from ferflow.report.sections.ifdd import ifdd_section
from ferflow.report.sections.pretrain import pretrain_section
from ferflow.report.sections.study import study_section
from ferflow.report.sections.summary import summary_section

__all__ = ["build_report", "collect", "render_html", "write_pdf"]

LOG = logging.getLogger(__name__)
STORE_KINDS = ("clips", "images")


def collect(root: Path, params: Params) -> tuple[dict[str, Any], dict[str, bytes], list[Exception]]:
    """Read every input under `root` and draw the figures: the template's context, the PNGs by name, and
    the failures of the sections that could not be gathered (each shown as an error box in the context)."""
    reader, gallery, errors = Reader(Path(root)), Gallery(), []

    def section(name: str, gather: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
        try:
            return gather(*args)
        except Exception as err:  # recorded, raised once the rest of the report is written
            err.add_note(f"in the report's {name} section")
            errors.append(err)
            return {"ran": False, "error": f"{type(err).__name__}: {err}"}

    measurements = paths.synthetic_root(params) / "measurements.json"
    stores = {kind: paths.processed(params, kind) for kind in STORE_KINDS}
    started = time.perf_counter()
    context = {
        "summary": section("summary", summary_section, reader.root, params),
        "ifdd": section(
            "ifdd", ifdd_section, reader, gallery, params.ifdd.variants, params.ifdd.folds, measurements
        ),
        "dicefer": section("dicefer", dicefer_section, reader, gallery),
        "pretrain": section("pretrain", pretrain_section, reader, gallery, faceid_trunks(params)),
        "study": section("study", study_section, reader, gallery),
        "data": section("data", data_section, reader, gallery, measurements, stores),
        "bench": section("bench", bench_section, reader, gallery),
        "literature": literature(),
        "inputs": reader.inputs,
    }
    LOG.info("report: gathered in %.1f s", time.perf_counter() - started)
    return context, gallery.pngs, errors


def _environment():
    from jinja2 import Environment, PackageLoader, StrictUndefined

    # autoescape=True, not select_autoescape: the template's name ends in .j2, not .html.
    env = Environment(
        loader=PackageLoader("ferflow.report", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = pct
    env.filters["num"] = num
    return env


def render_html(context: dict[str, Any]) -> str:
    """The report's HTML from a `collect` context (styles inlined from ``templates/report.css``)."""
    env = _environment()
    css = env.loader.get_source(env, "report.css")[0]
    return env.get_template("report.html.j2").render(css=css, **context)


def _fetcher():
    """A WeasyPrint URL fetcher that serves ``data:`` URIs and refuses everything else (no network)."""
    try:
        from weasyprint.urls import URLFetcher
    except ImportError:  # WeasyPrint < 68: a plain function
        from weasyprint import default_url_fetcher

        def fetch(url: str, *args: Any, **kwargs: Any) -> Any:
            if not url.startswith("data:"):
                raise ValueError(f"report: refusing to fetch {url}: the report must be self-contained")
            return default_url_fetcher(url, *args, **kwargs)

        return fetch
    return URLFetcher(allowed_protocols={"data"})


def write_pdf(html: str, path: Path) -> None:
    """Render `html` to a PDF at `path` (atomically), fetching nothing but ``data:`` URIs."""
    from weasyprint import HTML

    logging.getLogger("fontTools").setLevel(logging.WARNING)
    write_bytes(path, HTML(string=html, url_fetcher=_fetcher()).write_pdf())


def build_report(root: Path, out_dir: Path, params: Params) -> tuple[Path, Path]:
    """Render ``out_dir/report.html`` and ``out_dir/report.pdf`` from the result files under `root`.

    Also writes every figure of `FIGURES` as ``out_dir/figures/<name>.png`` (a "not run" image when its
    section's inputs are absent). Missing inputs give "not run" sections, never an error.

    Args:
        root: The project (working) folder the pipeline ran in: ``data/``, ``results/``, ``reports/bench/``.
        out_dir: Where the report goes.
        params: The validated parameters of the run (dataset names, variants, folds, ...).

    Returns:
        The paths of the HTML and PDF files.

    Raises:
        ExceptionGroup: A section failed for another reason than absent inputs (the files are written first,
            with an error box in that section's place).
    """
    out_dir = Path(out_dir)
    context, pngs, errors = collect(Path(root), params)
    html = render_html(context)
    for name, title in FIGURES.items():
        png = pngs.get(name) or placeholder(title, "its inputs were absent when the report was built")
        write_bytes(out_dir / "figures" / f"{name}.png", png)
    html_path, pdf_path = out_dir / "report.html", out_dir / "report.pdf"
    write_pdf(html, pdf_path)
    write_bytes(html_path, html.encode("utf-8"))
    if errors:
        raise ExceptionGroup(
            f"report: {len(errors)} section(s) failed; {html_path} and {pdf_path} were written with an error "
            "box in their place",
            errors,
        )
    return html_path, pdf_path
