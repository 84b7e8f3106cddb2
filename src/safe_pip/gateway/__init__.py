"""The gateway stage: a policy-filtered package index on 127.0.0.1, the only index pip sees.

It takes the configured sources (indexes, ``file://`` directories, find-links), the settings'
pins and the file policy (wheels only unless allowed, the cooldown, yanked files), and gives
pip, page by page, each project's files from exactly one source, with the sha256 it will
later be held to. Here too: the HTTP client every upstream request goes through
(``network``), the content-addressed download cache (``cache``), the choice of source
(``selection``, ``shadows``) and the cooldown's wording (``cooldown``).
"""
