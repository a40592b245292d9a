"""Transform modules: one file per transform module; see ``modules/builtin.py``."""
