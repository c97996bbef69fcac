"""Override rules: a user's own rewrites of their relay calls (docs/rules.md).

``schema`` (the rule document) and ``engine`` (compile, match, rewrite) are pure; ``cache``
keeps each user's compiled rules for the relay path; ``service`` and ``api`` keep the
rules (the 14 routes of ``/api/v1/user/override-rules``).
"""
