"""safe-pip's settings: one frozen object, built once from flags, environment and files.

Precedence, highest first: command-line flags; ``SAFE_PIP_*`` environment variables;
``[tool.safe-pip]`` in the nearest ``pyproject.toml`` (or a ``safe-pip.toml``) from the
current directory upwards; the user file ``$SAFE_PIP_HOME/config.toml``. List settings
(``trust``/``trusted``, ``allow-sdist``) are the union of every layer. pip's own configuration
(pip.conf, ``PIP_*``) is read separately by :mod:`safe_pip.resolve.pipconfig` and applies to
pip's options as pip would apply it.

The object and its defaults are in ``options``; ``files`` finds and merges the settings
layers, each checked by ``validation`` (numbers by ``limits``); ``sources`` makes the
sources, mirror groups and pins of the flags and the ``sources`` table; ``cooldown`` weighs
the cooldown flags against the settings.
"""
