"""The policy stage: what may be installed, decided before a byte is fetched or written.

It takes the requirements (``admission`` refuses what would run code outside the gateway),
the resolved plan and the trust store, and gives findings and decisions: the review
(``review``, with the reasons for a second look in ``trust_warnings``: typosquats
(``typosquat``, ``edit_distance``), impostors (``impostors``, ``reference``), new, dormant
and changed projects), updates (``updates``: the cooldown's notes, files and releases that
changed since they were installed; ``update_review`` and ``update_approval``: updates that
change what runs), known vulnerabilities (``vulnerabilities`` over ``advisories``, read
from ``advisory_source`` through ``advisory_index``), first-seen approval (``approval``,
asking through ``prompting``), the user's ``--hash`` pins (``hashes``), and, after a
successful install, the records: the trust store (``trust``) and the append-only audit log
(``audit``). Reference data about the most-downloaded projects ships in ``safe_pip/data``.
"""
