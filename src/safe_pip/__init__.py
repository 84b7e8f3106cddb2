"""safe-pip: a drop-in pip that checks what it installs before anything runs or lands."""

__version__ = "0.1.0"
