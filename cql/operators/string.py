"""Operators of this chapter of the CQL reference are being written."""
