"""The report's sections, one module each: a function that reads its result files through a
`ferflow.report.reader.Reader`, draws its figures into a `ferflow.report.gallery.Gallery`, and returns the
template's context for the section (``{"ran": False, "reason": ...}`` when its inputs are absent)."""
