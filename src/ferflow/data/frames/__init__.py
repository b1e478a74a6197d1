"""Frames: which to use (`sampling`), getting their pixels out of videos, frame folders and images
(`decoding`), and reading records' clips into arrays (`extraction`)."""
