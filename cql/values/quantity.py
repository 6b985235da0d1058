"""Placeholder: Quantity and Ratio are being written (see the engine notes)."""


class Quantity:  # replaced by the quantity module
    pass


class Ratio:  # replaced by the quantity module
    pass
