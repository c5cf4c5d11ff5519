"""Serving a released model: the gate at load, the checks at the door, the prediction journal.

The modules here other than :mod:`.server` import neither KServe nor anything the serving
environment lacks, so the gate, the door and the prediction log are tested in the main
environment too. :mod:`.server` (the ``kserve.Model``) runs in the serving environment
(``requirements/serving.lock``), which carries neither deepchecks nor alibi-detect.
"""
