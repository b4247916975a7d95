"""Study files: one TOML file runs every step of a paper's recipe and puts its numbers beside yours."""

from racelens.study.presets import PRESETS, preset_text, write_preset
from racelens.study.run import STUDY_SCHEMA, Commands, OptionSpec, StudyRun, plan_study, run_study
from racelens.study.schema import PaperNumber, Step, Study, load_study, parse_study

__all__ = ["PRESETS", "preset_text", "write_preset", "STUDY_SCHEMA", "Commands", "OptionSpec",
           "StudyRun", "plan_study", "run_study", "PaperNumber", "Step", "Study", "load_study",
           "parse_study"]
