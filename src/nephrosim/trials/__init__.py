"""Virtual patients and virtual trials: cardiac-surgery AKI populations, and trials of MSC, EVs or
conditioned medium with a control and one or more treated arms.

One entry point, :func:`run_trial`; a design is read with :func:`load_trial`.
"""

from nephrosim.trials.design import TrialDesign, TrialError, load_trial, trial_from_dict
from nephrosim.trials.population import TARGETS, PopulationSpec, VirtualPopulation, build_population
from nephrosim.trials.run import TrialResult, run_trial

__all__ = ["TARGETS", "PopulationSpec", "TrialDesign", "TrialError", "TrialResult", "VirtualPopulation",
           "build_population", "load_trial", "run_trial", "trial_from_dict"]
