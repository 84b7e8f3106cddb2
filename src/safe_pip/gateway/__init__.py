"""The gateway stage: a policy-filtered package index on 127.0.0.1, the only index pip sees.

It takes the configured sources (indexes, ``file://`` directories, find-links), the settings'
pins and the file policy (wheels only unless allowed, the cooldown, yanked files), and gives
pip, page by page, each project's files from exactly one source, with the sha256 it will
later be held to. Here too: the HTTP client every upstream request goes through
(``network``), the content-addressed download cache (``cache``), the choice of source
(``selection``, ``shadows``) and the cooldown's wording (``cooldown``).

The index itself (``server``) listens through ``listener``, renders ``pages``, answers
file requests (``file_requests``) under the direct-URL policy (``direct_urls``), records
what it served (``served``) and asks ahead of pip (``prefetch``). The sources are read
through ``sources.Upstream``: index pages parsed by ``index_pages``, fetched by ``remote``
(with ``credentials``) or from this machine (``local_files``, ``find_links``), each URL
judged by ``locations``.
"""
