"""Data: scaling, data sets and (later) file readers."""
