"""The resolve stage: pip's resolver decides what to install, against the gateway only.

It takes the parsed requirements (``requirements``, with pip's own configuration read by
``pipconfig``) and a running gateway, starts pip in the target interpreter with its
arguments on standard input (``pip_process``, started early by ``ahead``), and gives a
:class:`~safe_pip.models.Plan`: every distribution pip chose, the file and the source it
comes from. A plan pip already made from the same inputs is reused (``resolutions``);
``lockfile`` writes a plan out as a pinned, hashed requirements file.
"""
