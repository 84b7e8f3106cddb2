"""The build stage: an allowed source distribution, local project or git checkout becomes a
wheel, which is then inspected and installed like any other.

It takes a planned source distribution the user allowed (``--allow-sdist``) and its build
requirements, resolved and approved through the same gateway, and gives the built wheel.
Nothing is built without that allowance: building runs the project's own code.
"""
