"""Destination modules, one file each (``<name>.py`` declares ``MODULE``); found by ``modules.builtin``."""
