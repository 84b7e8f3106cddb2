"""The install stage: fetch, inspect, place, write, compile, all or nothing.

It takes the reviewed plan and gives an installed environment or an unchanged one: every
file is fetched into the cache and checked against its sha256 (``fetch``), every wheel is
inspected before a byte of it is written (``inspection``), the final path of every file is
checked against the target scheme and what is installed (``placement``, ``installed``),
then pypa/installer writes the wheels through a destination that refuses anything
unapproved (``installer``), modules are compiled (``bytecode``) and pip's installation
report describes the result (``report``).
"""
