"""Change control under a Predetermined Change Control Plan (FDA PCCP guidance, Dec 2024).

:mod:`.plan` is the plan as a validated document; :mod:`.gate` decides whether a retrained
candidate is inside the plan and meets it; :mod:`.report` renders the change record.
"""
