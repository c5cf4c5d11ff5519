"""Governance of the model lifecycle as for a Class II device.

Roles and a least-privilege permission matrix (:mod:`.roles`), users with re-authentication and
lockout (:mod:`.identity`), Part 11 electronic signatures bound to record versions
(:mod:`.signatures`), and the lifecycle derived from the audit log (:mod:`.lifecycle`,
:mod:`.service`).
"""
