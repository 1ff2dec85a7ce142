"""arborlab: a workbench for finding out how reasoning language models reason."""

__version__ = "0.1.0"
