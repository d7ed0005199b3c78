"""The local web page of ``audiolm serve`` (:mod:`audiolm_lib.web.server`, :mod:`audiolm_lib.web.page`)."""
