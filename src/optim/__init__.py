"""Learning-rate schedules and parameter groups (YAML: `optim.WarmupSchedule`)."""

from optim.param_groups import NoWeightDecay, parameter_groups
from optim.schedules import PlannedLR, PolynomialToLR, RunSchedule, ScheduleError, WarmupSchedule

__all__ = [
    "NoWeightDecay",
    "PlannedLR",
    "PolynomialToLR",
    "RunSchedule",
    "ScheduleError",
    "WarmupSchedule",
    "parameter_groups",
]
