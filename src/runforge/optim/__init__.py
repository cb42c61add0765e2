"""Learning-rate schedules and parameter groups (YAML: `runforge.optim.WarmupSchedule`)."""

from runforge.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "NoWeightDecay": ".param_groups",
        "PlannedLR": ".schedules",
        "PolynomialToLR": ".schedules",
        "RunSchedule": ".schedules",
        "ScheduleError": ".schedules",
        "WarmupSchedule": ".schedules",
        "parameter_groups": ".param_groups",
    },
)
