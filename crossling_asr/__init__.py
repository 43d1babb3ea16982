"""Shared code of the cross-lingual transfer recipes: text, data, encoders, training.

Everything that is the same for every language lives here once; a recipe
directory only holds that language's data (its hparams file).
"""

__version__ = "0.2.0"
