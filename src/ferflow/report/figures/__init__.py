"""The report's figures: one function per figure, each returning PNG bytes (seaborn + matplotlib, Agg).

One module per section (`ifdd`, `dicefer`, `pretrain`, `samples`, `bench`, `study`), the confusion
heatmaps both branches draw (`confusion`), the not-run `placeholder`, and what they all share (`style`).
Every function takes plain Python/numpy data (already read from the result files by `ferflow.report.sections`)
and never touches the file system. Text in figures comes from result files (class names, variant names), so
matplotlib's mathtext is off: a `$` in a class name is drawn as it is, never parsed.
"""

import matplotlib

matplotlib.use("Agg")  # before any figure module imports pyplot: no display is ever needed
