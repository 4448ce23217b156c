"""``vitkit reproduce``: the paper's findings in miniature, as experiments declared in data.

``experiment`` (parse one TOML file into a grid of runs), ``validate`` (check it before running),
``jobs`` (one run through the library: train, few-shot, inspect), ``grid``/``runner`` (seeds, skip finished
runs, resume; ``claims``/``workers``: several processes), ``stats``/``report``/``figures``
(results.json, table.md, PNGs).
"""

from .declaration import Experiment, ExperimentError
from .experiment import builtin_names, load_experiment
from .runner import Progress, run_experiment

__all__ = ["Experiment", "ExperimentError", "Progress", "builtin_names", "load_experiment", "run_experiment"]
