"""Example plugins for the longshoreman demo (see ``examples/demo.py``)."""
