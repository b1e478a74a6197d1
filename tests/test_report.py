"""The report: HTML and PDF from small fixture result files (no pipeline run)."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest
import yaml

from ferflow.cli import main
from ferflow.config import Params, validate_params
from ferflow.data.store import write_store
from ferflow.evaluate import metrics as M
from ferflow.evaluate.stats import VERDICT_RULE
from ferflow.evaluate.study_summary import summarize_study
from ferflow.report import FIGURES, build, build_report
from ferflow.report.build import collect, render_html
from ferflow.report.figures.study import _pair_label
from ferflow.report.literature import literature, parse
from ferflow.study import cells

HOSTILE = "<script>alert(1)</script>"
CLASSES = ["Happy", "Sad", HOSTILE, "Fe$ar $x^2$"]  # a script tag and mathtext that must stay text
UAR = 0.4321  # ifdd_mobilenetv2, fold 1: shows as 43.21
CONTROL_UAR = 0.8642  # control_dynamics, both folds
MIG = 0.6789
pytestmark = pytest.mark.filterwarnings("ignore:HarfBuzz-Subset:DeprecationWarning")
SECTIONS = (
    "Run summary",
    "IFDD (video)",
    "DICE-FER (images)",
    "Pretraining (face recognition)",
    "Comparisons over folds and seeds",
    "Data stages",
    "Benchmarks",
)


def _json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def _params() -> Params:
    return validate_params(
        {
            "synthetic": {"size": "tiny"},
            "ifdd": {
                "variants": ["ifdd_mobilenetv2", "baseline_mobilenetv2", "control_dynamics"],
                "folds": [1, 2],
                "init": "faceid",
            },
            "dicefer": {"init": "faceid"},
        }
    )


def _confusion(k: int, rng: np.random.Generator) -> tuple[list, list]:
    raw = rng.integers(0, 5, (k, k)) + np.eye(k, dtype=int) * 5
    return raw.tolist(), (raw / raw.sum(1, keepdims=True)).tolist()


def _ifdd(root: Path, rng: np.random.Generator) -> None:
    summary = {}
    runs = (("ifdd_mobilenetv2", "last"), ("baseline_mobilenetv2", "test"), ("control_dynamics", "last"))
    for variant, selection in runs:
        folds = {}
        for fold in (1, 2):
            run = root / "results" / "ifdd" / variant / f"fold_{fold}"
            uar = UAR if (variant, fold) == ("ifdd_mobilenetv2", 1) else float(rng.uniform(0.2, 0.4))
            uar = CONTROL_UAR if variant == "control_dynamics" else uar
            war = float(rng.uniform(0.3, 0.5))
            raw, norm = _confusion(len(CLASSES), rng)
            metrics = {
                "variant": variant,
                "fold": fold,
                "samples": 20,
                "war": war,
                "uar": uar,
                "per_class_recall": {c: float(rng.uniform()) for c in CLASSES},
                "confusion": raw,
                "confusion_normalised": norm,
                "classes": CLASSES,
                "selection": selection,
                "selected_epoch": 2,
                "optimistic": selection == "test",
            }
            _json(run / "eval" / "metrics.json", metrics)
            history = [
                {
                    "epoch": e,
                    "train/loss": 2.0 - 0.3 * e,
                    "lr": 1e-3,
                    "test/uar": 0.2 + 0.05 * e,
                    "test/war": 0.3,
                }
                for e in (1, 2, 3)
            ]
            _json(run / "history.json", history)
            if variant.startswith("ifdd"):
                clips = [
                    {
                        "sample_id": f"{n:05d}",
                        "episode": [3 + n, 12 + n],
                        "static": [0.6, 5.4, 10.6, 15.4],
                        "dynamic": [3.5, 8.5, 13.5, 18.3],
                    }
                    for n in range(5)
                ]
                issm = {
                    "clips": 5,
                    "dynamic_in_episode": 0.7,
                    "static_in_episode": 0.4,
                    "episode_share": 0.45,
                    "per_clip": clips,
                }
                _json(run / "eval" / "issm_episode.json", issm)
            folds[str(fold)] = {"war": war, "uar": uar}
        summary[variant] = {"folds": folds, "optimistic": selection == "test"}
    _json(root / "results" / "ifdd" / "summary.json", summary)


def _dicefer(root: Path, rng: np.random.Generator) -> None:
    n = 28
    labels = np.arange(n) % len(CLASSES)
    identities = np.array([f"id{k % 4}" for k in range(n)])
    for key in ("dicefer", "baseline"):
        out = root / "results" / "dicefer" / key
        raw, norm = _confusion(len(CLASSES), rng)
        per_class = [
            {"class": c, "accuracy": 0.5, "precision": 0.6, "recall": 0.5, "f1": 0.55, "support": 7}
            for c in CLASSES
        ]
        if key == "dicefer":
            probes = {
                "identity_from_E": {"accuracy": 0.3, "chance": 0.25, "folds": 2, "samples": n, "classes": 4},
                "expression_from_I": {
                    "accuracy": 0.3,
                    "chance": 0.25,
                    "folds": 2,
                    "samples": n,
                    "classes": 4,
                },
            }
        else:
            probes = {
                "identity_from_embedding": {
                    "accuracy": 0.9,
                    "chance": 0.25,
                    "folds": 2,
                    "samples": n,
                    "classes": 4,
                }
            }
        metrics = {
            "kind": key,
            "samples": n,
            "war": 0.5,
            "uar": 0.5,
            "macro_precision": 0.6,
            "macro_recall": 0.5,
            "macro_f1": 0.55,
            "per_class": per_class,
            "confusion": raw,
            "confusion_normalised": norm,
            "classes": CLASSES,
            "mig": {"value": MIG if key == "dicefer" else 0.1, "expression": 0.5, "identity": 0.8},
            "probes": probes,
            "skipped": {},
        }
        _json(out / "eval" / "metrics.json", metrics)
        arrays = {"codes": rng.normal(size=(n, 8)), "labels": labels, "identities": identities}
        if key == "dicefer":
            arrays |= {"e": rng.normal(size=(n, 4)), "i": rng.normal(size=(n, 4))}
        np.savez(out / "eval" / "embeddings.npz", classes=np.array(CLASSES), **arrays)
        history = [
            {"stage": 1, "name": "expression", "epoch": e, "loss": 1.0 / e, "seconds": 1.0} for e in (1, 2)
        ]
        _json(out / "history.json", history)


def _data(root: Path, rng: np.random.Generator) -> None:
    processed = root / "data" / "processed" / "synthetic"
    for kind, shape in (("clips", (4, 8, 16, 16, 3)), ("images", (8, 16, 16, 3))):
        samples = rng.integers(0, 255, shape, dtype=np.uint8)
        rows = [
            {
                "sample_id": f"{kind}{k}",
                "label": str(k % len(CLASSES)),
                "identity": str(k % 3),
                "split": "test",
                "fold": "1",
                "frame_indices": "",
                "source": "x",
            }
            for k in range(shape[0])
        ]
        write_store(processed / kind, [(samples, rows)], {"classes": CLASSES, "kind": kind})
        _json(
            processed / f"{kind}_metrics.json",
            {"kind": kind, "samples": shape[0], "skipped": 1, "detection_rate": 0.9876, "nme_mean": 0.0412},
        )
        (processed / f"{kind}_manifest.csv").write_text(
            f'sample_id,path,reason\nbad1,"data/raw/{HOSTILE}.mp4",truncated video: no frames\n'
        )
    _json(
        root / "data" / "raw" / "synthetic" / "tiny" / "measurements.json",
        {
            "size": "tiny",
            "seed": 0,
            "clips": 35,
            "frames": 600,
            "images": 140,
            "generation_seconds": 4.2,
            "detection": {"frame_rate": 0.99, "image_rate": 0.97, "clips_with_misses": []},
            "difficulty": {
                "views": {
                    "one_frame": {"uar": 0.4476},
                    "frame_mean": {"uar": 0.3294},
                    "peak_change": {"uar": 0.9762},
                }
            },
        },
    )


def _bench(root: Path) -> None:
    modes = {"ferflow_clips_per_s": 50.0, "up_to_last_clips_per_s": 45.0}
    _json(
        root / "reports" / "bench" / "data.json",
        {
            "created": "2026-01-01T00:00:00+00:00",
            "machine": {"processor": "x86_64", "cpus_usable": 2, "load_average": [1.0, 1.0, 1.0]},
            "settings": {"quick": True},
            "targets": {"loader_meets_target": True, "loader_min_clips_per_s": {"112": 100.0}},
            "extraction": {
                "short": {"full_decode": {"clips_per_s": 40.0}, "uniform": modes, "contiguous": modes}
            },
            "alignment": {"frames_per_s": {"112": 70.0}},
            "loader": {"112": {"clips_per_s": 120.0, "num_workers": 2}},
        },
    )
    phase = {
        "ifdd_mobilenetv2_clips_per_s": 3.0,
        "baseline_mobilenetv2_clips_per_s": 4.0,
        "ifdd_overhead": 1.33,
    }
    _json(
        root / "reports" / "bench" / "models.json",
        {
            "settings": {"batch": 2, "device": "cpu", "img_size": 64},
            "machine": {"processor": "x86_64"},
            "mobilenetv2": {"train": phase, "inference": phase},
        },
    )


def _pretrain(root: Path, rng: np.random.Generator) -> None:
    for trunk, accuracy in (("resnet18", 0.8765), ("mobilenetv2", 0.7654)):
        folder = root / "results" / "pretrain" / trunk
        verification = {
            "accuracy": accuracy,
            "accuracy_std": 0.02,
            "tar": 0.25,
            "far": 1e-3,
            "far_resolution": 1e-3,
            "pairs": 2000,
        }
        _json(
            folder / "model_card.json",
            {
                "trunk": trunk,
                "input": "grey 64x64",
                "dataset": "casia",
                "identities": 200,
                "images": 3200,
                "loss": "cosface: cosine margin 0.35",
                "epochs": 3,
                "train_seconds": 99.0,
                "verification": verification,
            },
        )
        _json(
            folder / "history.json", [{"epoch": e, "verify/accuracy": accuracy - 0.1 / e} for e in (1, 2, 3)]
        )
        same = rng.random(200) < 0.5
        scores = rng.normal(same * 1.5, 1.0)
        (folder / "verification_scores.csv").write_text(
            "fold,same,score\n"
            + "".join(
                f"{k % 10},{int(s)},{c:.4f}\n" for k, (s, c) in enumerate(zip(same, scores, strict=True))
            )
        )


def _study(root: Path, rng: np.random.Generator) -> None:
    """A two-seed, two-fold study's result files, summarised by the real `summarize_study`."""
    params = validate_params(
        {
            "study": {
                "seeds": [0, 1],
                "folds": [1, 2],
                "dicefer": {"settings": {"paper": {"delta": 0.1}}, "compare": []},
                "bootstrap": {"resamples": 200},
            }
        }
    )
    labels = {fold: rng.integers(0, 3, 60) for fold in (0, 1, 2)}
    for cell in cells(params):
        y = labels[cell.fold]
        hit = rng.random(60) < (0.8 if cell.model in ("ifdd_mobilenetv2", "dicefer") else 0.5)
        predicted = np.where(hit, y, (y + 1) % 3)
        metrics = {"uar": M.uar(y, predicted), "war": M.war(y, predicted)}
        if cell.family == "dicefer":
            probe = "identity_from_E" if cell.model == "dicefer" else "identity_from_embedding"
            metrics |= {"mig": {"value": float(rng.uniform())}, "probes": {probe: {"accuracy": 0.3}}}
        _json(root / cell.folder / "eval" / "metrics.json", metrics)
        if cell.model == "ifdd_smallcnn":  # ISSM's dynamic frames land in the episode well above chance
            episode = {"dynamic_in_episode": 0.6 + 0.05 * rng.random(), "static_in_episode": 0.2}
            _json(root / cell.folder / "eval" / "issm_episode.json", episode | {"episode_share": 0.35})
        rows = [
            f"{i:03d},{CLASSES[t]},{CLASSES[q]}" for i, (t, q) in enumerate(zip(y, predicted, strict=True))
        ]
        (root / cell.folder / "eval" / "predictions.csv").write_text(
            "sample_id,label,predicted\n" + "\n".join(rows)
        )
    summarize_study(params, root, root / "results" / "study" / "summary.json")


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("project")
    rng = np.random.default_rng(0)
    _ifdd(root, rng)
    _dicefer(root, rng)
    _pretrain(root, rng)
    _data(root, rng)
    _bench(root)
    _study(root, rng)
    return root


@pytest.fixture(scope="module")
def built(project, tmp_path_factory) -> tuple[Path, Path, str]:
    html, pdf = build_report(project, tmp_path_factory.mktemp("report"), _params())
    return html, pdf, html.read_text()


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str, str]] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.urls += [(tag, name, value or "") for name, value in attrs if name in ("src", "href", "data")]


def test_both_files_and_every_figure_are_written(built):
    html, pdf, _ = built
    assert html.stat().st_size > 10_000
    assert pdf.read_bytes().startswith(b"%PDF")
    figures = html.parent / "figures"
    assert sorted(p.stem for p in figures.glob("*.png")) == sorted(FIGURES)
    assert not list(html.parent.glob(".*tmp*")), "temporary files left behind"


def test_html_is_self_contained(built):
    _, _, text = built
    parser = _Links()
    parser.feed(text)
    assert not {"script", "link", "iframe", "object"} & set(parser.tags)
    images = [value for tag, name, value in parser.urls if tag == "img"]
    assert len(images) == len(FIGURES)  # every figure has inputs here, and is embedded
    assert all(v.startswith("data:image/png;base64,") for v in images)
    for tag, name, value in parser.urls:
        assert not re.match(r"\s*(https?:)?//", value, re.I), (tag, name, value)
        assert value.startswith(("data:", "#")), (tag, name, value)
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", text, re.I)


def test_dataset_text_is_escaped(built):
    _, _, text = built
    assert HOSTILE not in text
    assert "<script" not in text.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text  # class names and manifest paths, as text
    assert "Fe$ar $x^2$" in text


def test_numbers_sections_and_optimistic_label(built):
    _, _, text = built
    for title in SECTIONS:
        assert title in text
    assert "43.21" in text  # UAR of ifdd_mobilenetv2 fold 1
    assert f"{MIG:.3f}" in text
    assert "optimistic" in text  # baseline_mobilenetv2 was selected on the test fold
    row = re.search(r"<td>baseline_mobilenetv2</td>.*?</tr>", text, re.S).group(0)
    assert "optimistic" in row and "best on the test fold" in row
    assert "not comparable to the embedded benchmark" in text
    assert "Macro avg" in text
    assert "44.8 % / 32.9 % / 97.6 %" in text  # the benchmark's landmark probes
    bounds = text.split("Bounds: what the benchmark allows")[1].split("</table>")[0]
    assert re.search(r"true landmarks, peak change from the clip&#39;s median.*?97\.6", bounds, re.S)
    assert re.search(r"control_dynamics: dynamics control .*?86\.42", bounds, re.S)
    assert "87.65 ± 2.00" in text and "cosface: cosine margin 0.35" in text  # the pretrained trunks
    assert VERDICT_RULE.replace("'", "&#39;") in text
    assert "UAR, ifdd_mobilenetv2 vs baseline_mobilenetv2: ifdd_mobilenetv2 better than" in text
    assert "MIG, dicefer[paper] vs baseline[paper]:" in text
    assert "smallest\nUAR difference found with 80 % power" in text
    issm = text.split("Dynamic frames against the true episode")[1].split("</table>")[0]
    assert "<td>ifdd_smallcnn</td>" in issm
    assert "ifdd_smallcnn: dynamic frames fall in the true episode more often than chance" in issm
    assert text.count("cannot decide which model is better") == 2  # the single-run sections point to it
    assert "Not run" not in text and "Could not be read" not in text


def test_pdf_opens_and_holds_the_text(built):
    pypdf = pytest.importorskip("pypdf")
    _, pdf, _ = built
    reader = pypdf.PdfReader(pdf)
    assert len(reader.pages) >= 5
    text = " ".join(page.extract_text() for page in reader.pages)
    for title in (*SECTIONS, "Reported by other work"):
        assert title in text
    assert "43.21" in text
    assert "<script>alert(1)</script>" in text  # drawn as text in the PDF, never run as markup


def test_pdf_first_page_renders(built):
    pdfium = pytest.importorskip("pypdfium2")
    _, pdf, _ = built
    document = pdfium.PdfDocument(pdf)
    image = np.asarray(document[0].render(scale=0.5).to_pil().convert("L"))
    assert image.shape[0] > image.shape[1] > 200  # portrait A4
    assert (image < 128).mean() > 0.01  # text was drawn
    assert (image > 200).mean() > 0.5  # on a white page
    document.close()


def test_missing_inputs_give_not_run_sections(tmp_path):
    html, pdf = build_report(tmp_path / "empty", tmp_path / "out", _params())
    text = html.read_text()
    assert pdf.read_bytes().startswith(b"%PDF")
    assert text.count("Not run") >= 5
    assert "Failed" not in text
    assert "data:image" not in text
    for title in SECTIONS:
        assert title in text
    assert "not comparable to the embedded benchmark" in text  # the literature needs no input
    assert sorted(p.stem for p in (tmp_path / "out" / "figures").glob("*.png")) == sorted(FIGURES)


def test_a_broken_file_fails_the_report_after_writing_the_rest(tmp_path, monkeypatch):
    root = tmp_path / "project"
    _dicefer(root, np.random.default_rng(1))
    (root / "results" / "ifdd").mkdir(parents=True)
    (root / "results" / "ifdd" / "summary.json").write_text("{ not json")
    context, figures, errors = collect(root, _params())
    text = render_html(context)
    assert "Failed (the report stage exits with this error)" in text and "summary.json" in text
    assert "dicefer_tsne" in figures and "ifdd_uar_war" not in figures
    assert f"{MIG:.3f}" in text
    assert [e.__notes__ for e in errors] == [["in the report's ifdd section"]]
    # the command: a traceback and a non-zero status (not a one-line user error), the files written anyway
    (root / "params.yaml").write_text(yaml.safe_dump(_params().model_dump(mode="json")))
    monkeypatch.chdir(root)
    with pytest.raises(ExceptionGroup, match=r"report: 1 section\(s\) failed") as raised:
        main(["report", "--root", ".", "--out", "out"])
    assert "summary.json" in str(raised.value.exceptions[0])
    assert (root / "out" / "report.pdf").read_bytes().startswith(b"%PDF")
    assert "Failed (the report stage" in (root / "out" / "report.html").read_text()


def test_a_bug_in_a_section_is_a_failure_not_a_not_run(tmp_path, monkeypatch):
    def broken(*args):
        return {"ran": True, "rows": [1 / 0]}

    monkeypatch.setattr(build, "study_section", broken)
    context, _, errors = collect(tmp_path / "empty", _params())
    assert [type(e) for e in errors] == [ZeroDivisionError]
    assert context["study"]["error"] == "ZeroDivisionError: division by zero"
    assert context["ifdd"]["ran"] is False and "error" not in context["ifdd"]  # absent: not run


def test_every_figure_has_a_caption_for_snakemake_report():
    captions = Path(__file__).resolve().parents[1] / "workflow" / "report"
    for name in FIGURES:
        assert (captions / f"{name}.rst").read_text().strip(), name


def test_forest_rows_with_a_long_shared_first_model_stay_distinguishable():
    pairs = [
        "dicefer[faceid_paper] - baseline[faceid_paper]",
        "dicefer[faceid_paper] - dicefer[faceid_no_l1]",
    ]
    labels = [_pair_label(p) for p in pairs]
    assert labels[0] != labels[1] and all("\n- " in label for label in labels)


def test_the_literature_is_a_validated_data_file():
    tables = literature()
    assert list(tables) == ["ifdd_peers", "dicefer_per_class", "dicefer_mig"]  # the report's order
    assert ["S2D", "61.82", "76.03", "\u2013", "\u2013"] in tables["ifdd_peers"]["rows"]
    text = (files("ferflow.report") / "resources" / "literature.yaml").read_text(encoding="utf-8")
    assert parse(text) == tables
    with pytest.raises(ValueError, match=r"(?s)^x\.yaml: .*2 cells for 5 columns"):
        parse(text.replace('[S2D, "61.82", "76.03", "\u2013", "\u2013"]', '[S2D, "61.82"]'), "x.yaml")
    with pytest.raises(ValueError, match=r"(?s)^x\.yaml: .*colums"):
        parse(text.replace("columns: [Class, Accuracy]", "colums: [Class, Accuracy]"), "x.yaml")
    with pytest.raises(ValueError, match=r"^x\.yaml: no table"):
        parse("{}", "x.yaml")


def test_the_uar_war_figure_does_not_depend_on_the_global_random_state():
    from ferflow.report.figures.ifdd import uar_war_bars

    runs = [
        {"variant": v, "fold": f, "uar": 0.3 + 0.1 * f, "war": 0.35 + 0.1 * f}
        for v in ("ifdd_mobilenetv2", "baseline_mobilenetv2")
        for f in range(1, 6)
    ]
    drawn = []
    for seed in (1, 2):
        np.random.seed(seed)
        drawn.append(uar_war_bars(runs))
    assert drawn[0] == drawn[1]
