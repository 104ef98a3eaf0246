"""HTML reports: one self-contained file per run that a biologist can e-mail.

``nephrosim simulate|compare|ensemble|check-model|validate|meta|trial|trial-design ... --report out.html``
writes the run's tables and figures (embedded as PNG), the scenario as YAML, the parameter
provenance of the rows the model used, the command line, the seed, the date and the package
versions into one HTML file, written atomically. The builders in
:mod:`nephrosim.report.builders` make the :class:`Report` of each job; :func:`write` renders
it (jinja2, autoescaped: user text never becomes markup) and writes it.

Example
-------
>>> import nephrosim                                                   # doctest: +SKIP
>>> from nephrosim.report import simulate_report, write                 # doctest: +SKIP
>>> result = nephrosim.simulate("examples/mouse_iri_msc.yaml")          # doctest: +SKIP
>>> write(simulate_report(result, "examples/mouse_iri_msc.yaml"), "r.html")  # doctest: +SKIP
"""

from nephrosim.report.builders import (check_model_report, compare_report, ensemble_report, meta_report,
                                       prediction_interval_report, simulate_report, trial_report,
                                       validation_report)
from nephrosim.report.design_report import trial_design_report
from nephrosim.report.document import Figure, Report, Section, Table, check_report_path, render, write

__all__ = ["Report", "Section", "Table", "Figure", "render", "write", "check_report_path", "simulate_report",
           "compare_report", "ensemble_report", "prediction_interval_report", "check_model_report", "validation_report", "meta_report",
           "trial_report", "trial_design_report"]
