"""An example LogiData module pack: each module is one file of this package, named by an entry point."""
