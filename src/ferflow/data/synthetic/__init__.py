"""The embedded benchmark: synthetic faces whose expressions live in the dynamics.

`face` renders frames (one real photograph warped by landmark-driven deformations), `plan` draws the
identities, clips and images from one seed, `render` turns them into encoded clips and stills, `generate`
lays out the video set like DFEW and the image set like RAF-DB basic, with ground-truth sidecars, and
`measure` runs the project's face detector over the result.
"""
