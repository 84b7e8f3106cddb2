"""The policy stage: what may be installed, decided before a byte is fetched or written.

It takes the requirements (``admission`` refuses what would run code outside the gateway),
the resolved plan and the trust store, and gives findings and decisions: the review
(``review``: typosquats, impostors, yanked and changed files, updates that change what runs,
known vulnerabilities), first-seen approval (``approval``, asking through ``prompting``),
the user's ``--hash`` pins (``hashes``), and, after a successful install, the records: the
trust store (``trust``) and the append-only audit log (``audit``). Reference data about the
most-downloaded projects ships in ``safe_pip/data``.
"""
