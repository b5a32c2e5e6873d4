"""Data: file formats and their readers and writers, rows streamed from disk, scaling, data sets."""
