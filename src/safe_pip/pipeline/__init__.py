"""The commands' cores: ``install``, ``lock``, and ``download``/``wheel`` through the gateway.

They take what the user asked (``request``) and the settings, and give what happened, never
printing or prompting: progress goes to a :class:`~safe_pip.reporting.Reporter`, questions
to a :class:`~safe_pip.policy.prompting.Prompter`. Each is built from the stages below it,
over what every gateway-using command shares (``session``: the upstream client, the gateway
and its download approval, the target and its policy). ``install`` runs admission, the
gateway, resolve, review, fetch, build, inspect and install in order through the ``stages``
protocols, whose real implementation is ``gated``; ``lock`` resolves without installing;
``pip_commands`` hands ``pip download`` and ``pip wheel`` the gateway as their only index.
"""
