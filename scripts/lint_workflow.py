"""`snakemake --lint`, failing only on findings that matter here.

Snakemake advises a conda environment or container for every rule; ferflow installs one virtual environment
instead (`make install`), so that advice is reported but does not fail `make lint`. Any other finding, or a
workflow that does not parse, does.
"""

import subprocess
import sys

ACCEPTED = "conda environment or container"

result = subprocess.run(
    [sys.executable, "-m", "snakemake", "--lint", *sys.argv[1:]], capture_output=True, text=True
)
output = result.stdout + result.stderr
findings = [line.strip() for line in output.splitlines() if line.strip().startswith("* ")]
serious = [f for f in findings if ACCEPTED not in f]
if serious or (result.returncode != 0 and not findings):
    print(output, end="")
    sys.exit(1)
print(f"snakemake --lint: {len(findings)} x the advice to pin a {ACCEPTED} per rule (accepted); nothing else")
