"""The sixteenth pass's probe helpers (``../../validation_i34/probe/shared.py``: the shipped speech model, the
validation items, rung c and the measures), loaded from there for this pass's probes."""
import importlib.util
from pathlib import Path

_SPEC = importlib.util.spec_from_file_location(
    "validation_i34_shared", Path(__file__).resolve().parents[2] / "validation_i34" / "probe" / "shared.py")
_MODULE = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(_MODULE)
RATE = _MODULE.RATE
compare_variants, dnsmos, item_tokens, measure = (_MODULE.compare_variants, _MODULE.dnsmos, _MODULE.item_tokens,
                                                  _MODULE.measure)
rung_c_measures, shipped_speech_model, voice_items = (_MODULE.rung_c_measures, _MODULE.shipped_speech_model,
                                                      _MODULE.voice_items)
