"""scripts/device-check.sh: its usage, and the summary it ends with (CI runs the whole script with
--cpu-smoke after `make test`, see .ci/run)."""

import json
import subprocess
from pathlib import Path

from ferflow.bench import summary

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "device-check.sh"

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="4">
<testcase classname="tests.test_cuda" name="test_a[cpu]" time="1.0"/>
<testcase classname="tests.test_cuda" name="test_a[cuda]" time="0.0">
  <skipped type="pytest.skip" message="CUDA is not available">skip</skipped></testcase>
<testcase classname="tests.test_cuda" name="test_b[cuda]" time="0.0">
  <skipped type="pytest.skip" message="CUDA is not available">skip</skipped></testcase>
<testcase classname="tests.test_cuda" name="test_c[cuda]" time="2.0">
  <failure message="AssertionError: loss 2.1 vs 1.9">trace</failure></testcase>
</testsuite></testsuites>
"""


def test_summary_counts_tests_and_reports_a_failed_step(tmp_path, capsys):
    (tmp_path / "cuda-tests.xml").write_text(JUNIT)
    (tmp_path / "steps.tsv").write_text("install\t0\t3\ntests\t1\t40\nbench-models\t0\t20\n")
    assert summary.main([str(tmp_path)]) == 1  # a step failed
    printed = capsys.readouterr().out
    assert "cuda-tests: 1 passed, 1 failed, 2 skipped" in printed
    assert "FAILED tests.test_cuda::test_c[cuda]: AssertionError: loss 2.1 vs 1.9" in printed
    assert "skipped 2: CUDA is not available" in printed and "tests 40s FAILED (1)" in printed
    assert "models: not measured" in printed and "result: FAILED" in printed
    written = json.loads((tmp_path / "summary.json").read_text())
    assert written["seconds"] == 63 and not written["ok"]
    assert written["tests"]["skip_reasons"] == {"CUDA is not available": 2}


def test_summary_of_passing_steps(tmp_path, capsys):
    (tmp_path / "steps.tsv").write_text("install\t0\t3\n")
    assert summary.main([str(tmp_path)]) == 0
    assert "result: every step passed" in capsys.readouterr().out


def test_script_usage():
    for args in ([], ["out", "--gpu-smoke"], ["a", "b", "c"]):
        done = subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True)
        assert done.returncode == 2 and "usage: " in done.stderr and "OUTDIR [--cpu-smoke]" in done.stderr
